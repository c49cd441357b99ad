"""The installer's answers: what an unattended install may ask for, and nothing else."""

import pytest
import yaml

from peer.osimage.install import (
    Answers,
    InstallError,
    from_cmdline,
    node_yaml,
    parse_answers,
    squashfs_size,
)


def test_an_answer_file_names_the_disk_and_optionally_the_cluster():
    a = parse_answers(
        "disk: /dev/vdb\nhostname: qx-1\ncluster: {name: prod, secret: 'twelve chars!'}\n"
    )
    assert a == Answers("/dev/vdb", "qx-1", "prod", "twelve chars!", True)
    cfg = yaml.safe_load(node_yaml(a))
    assert cfg["cluster"] == {"name": "prod", "secret": "twelve chars!"}
    assert cfg["libvirt_uri"] == "qemu:///system" and cfg["watchdog"] is True
    assert "cluster" not in yaml.safe_load(node_yaml(parse_answers("disk: /dev/sda")))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("hostname: x", "disk"),
        ("disk: sdb", "disk"),
        ("disk: /dev/sdb\ncluster: {name: prod}", "both"),
        ("disk: /dev/sdb\ncluster: {name: prod, secret: short}", "12"),
        ("disk: /dev/sdb\ncluster: {name: Prod!, secret: long-enough-secret}", "cluster name"),
        ("disk: /dev/sdb\nformat_everything: yes", "unknown"),
        ("- a list", "mapping"),
    ],
)
def test_bad_answers_are_refused_with_the_reason(text, why):
    with pytest.raises(InstallError, match=why):
        parse_answers(text)


def test_the_kernel_command_line_can_name_the_disk():
    assert from_cmdline("quantix.slot=a quantix.install=/dev/sdb quiet") == Answers("/dev/sdb")
    assert from_cmdline("quantix.slot=a quiet") is None
    assert from_cmdline("quantix.install=ask") is None


def test_only_the_used_part_of_a_slot_is_copied():
    header = b"hsqs" + bytes(36) + (5000).to_bytes(8, "little") + bytes(48)
    assert squashfs_size(header) == 8192
    with pytest.raises(InstallError):
        squashfs_size(bytes(96))


def test_the_installed_host_keeps_the_installers_timing_settings_only():
    running = {"fence_after": 30.0, "watchdog": False, "cluster": {"name": "x"}, "hostname": "y"}
    cfg = yaml.safe_load(node_yaml(parse_answers("disk: /dev/vdb"), running))
    assert cfg == {"libvirt_uri": "qemu:///system", "watchdog": False, "fence_after": 30.0}
