"""The VM spec parser: what it accepts, and the reason it gives for what it refuses."""

import pytest

from hypervisor.errors import InvalidSpec
from hypervisor.spec import parse_spec

GOOD = {
    "name": "web-1",
    "vcpus": 2,
    "memory_mib": 1024,
    "disks": [{"id": "d0", "pool": "local", "size_gib": 10, "image": "/img/debian.qcow2"}],
    "nics": [{"network": "br0", "mac": "52:54:00:12:34:56"}],
    "boot": ["hd", "cdrom"],
    "cloud_init": {"ssh_keys": ["ssh-ed25519 AAAA me@host"]},
}


def test_a_record_parses_with_defaults_filled_in():
    s = parse_spec("vm-1", GOOD)
    assert (s.vcpus, s.memory_mib, s.firmware, s.machine) == (2, 1024, "bios", "pc")
    assert s.disks[0].volume == "vm-1-d0.qcow2" and s.disks[0].image == "/img/debian.qcow2"
    assert s.nics[0].bridge == "br0"
    assert s.cloud_init is not None and s.cloud_init.hostname == "web-1"
    assert s.domain_name == "qx-vm-1"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"memory_mib": 0}, "memory_mib must be an integer from 32"),
        ({"vcpus": 0}, "vcpus must be an integer from 1"),
        ({"vcpus": "2"}, "vcpus must be an integer"),
        ({"firmware": "coreboot"}, "firmware must be one of bios, uefi"),
        ({"disks": [{"id": "d0"}]}, "needs a size_gib or an image"),
        ({"disks": [{"size_gib": 1}, {"id": "d0", "size_gib": 1}]}, "disk ids must be unique"),
        ({"nics": [{"network": "br0", "mac": "zz"}]}, "is not a MAC address"),
        ({"nics": [{"network": "br0", "mac": "01:00:5e:00:00:01"}]}, "multicast"),
        ({"boot": ["floppy"]}, "boot must list"),
        ({"initrd": "/boot/initrd"}, "initrd and cmdline need a kernel"),
        ({"cloud_init": {"ssh_keys": ["a\nb"]}}, "single line"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(change, words):
    with pytest.raises(InvalidSpec) as e:
        parse_spec("vm-1", {**GOOD, **change})
    assert words in e.value.message
    assert e.value.status == 400 and e.value.code == "invalid_spec"


def test_a_bad_vm_id_is_refused():
    with pytest.raises(InvalidSpec, match="VM id"):
        parse_spec("../etc", GOOD)
