"""The NoCloud seed: documents built in Python, an ISO read back file by file."""

from hypervisor.cloudinit import build_seed_iso, read_seed, seed_documents
from hypervisor.spec import CloudInitSpec


def test_seed_iso_has_label_and_the_three_files():
    ci = CloudInitSpec("web-1", ("ssh-ed25519 AAAAC3 alice@laptop",), "$6$salt$hash", None, None)
    data = build_seed_iso(seed_documents("vm-42", ci))
    seed = read_seed(data)
    assert seed["volume_id"] == "cidata"
    assert seed["rr_names"] == ["meta-data", "network-config", "user-data"]
    files = seed["files"]
    assert set(files) == {"user-data", "meta-data", "network-config"}
    assert files["user-data"].startswith("#cloud-config\n")
    assert 'hostname: "web-1"' in files["user-data"]
    assert '"ssh-ed25519 AAAAC3 alice@laptop"' in files["user-data"]
    assert 'passwd: "$6$salt$hash"' in files["user-data"]
    assert "ssh_pwauth: true" in files["user-data"]
    assert 'instance-id: "vm-42"' in files["meta-data"]
    assert files["network-config"].startswith("version: 2\n")


def test_callers_user_data_is_kept_verbatim():
    ci = CloudInitSpec("h", (), None, "#!/bin/sh\necho hi\n", "version: 2\nethernets: {}\n")
    files = read_seed(build_seed_iso(seed_documents("v", ci)))["files"]
    assert files["user-data"] == "#!/bin/sh\necho hi\n"
    assert files["network-config"] == "version: 2\nethernets: {}\n"
