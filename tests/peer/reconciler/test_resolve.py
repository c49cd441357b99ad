"""The pure part of the reconciler: resolving references and the HA safety rule."""

import pytest

from peer.reconciler.resolve import ResolveError, decide, kept_volumes, resolve_spec

TABLES = {
    "volumes": {"v1": {"pool": "shared", "name": "web-d0"}},
    "images": {"img1": {"path": "/pools/shared/debian.qcow2"}, "iso1": {"path": "/p/x.iso"}},
    "networks": {"lan": {"type": "bridge", "bridge": "br-lan"}},
    "pools": {"local": {"path": "/p/local"}, "shared": {"path": "/p/shared"}},
}


def test_references_become_host_terms():
    vm = {
        "disks": [{"id": "d0", "volume": "v1", "size_gib": 1, "image": "img1"}],
        "cdrom": "iso1",
        "nics": [{"network": "lan", "mac": "52:54:00:00:00:01"}],
    }
    out = resolve_spec(vm, TABLES)
    assert out["disks"][0] == {
        "id": "d0",
        "volume": "web-d0",
        "pool": "shared",
        "size_gib": 1,
        "image": "/pools/shared/debian.qcow2",
    }
    assert out["cdrom"] == {"path": "/p/x.iso"}
    assert out["nics"][0]["bridge"] == "br-lan"


def test_kernel_boot_images_become_paths():
    tables = {**TABLES, "images": {"k": {"path": "/p/vmlinuz"}, "i": {"path": "/p/initrd"}}}
    out = resolve_spec({"kernel": "k", "initrd": "i", "cmdline": "console=ttyS0"}, tables)
    assert (out["kernel"], out["initrd"], out["cmdline"]) == (
        "/p/vmlinuz",
        "/p/initrd",
        "console=ttyS0",
    )
    assert resolve_spec({"kernel": None}, tables)["kernel"] is None


def test_unknown_image_is_a_resolve_error():
    with pytest.raises(ResolveError, match="image 'nope' does not exist"):
        resolve_spec({"disks": [{"size_gib": 1, "image": "nope"}]}, TABLES)


def test_kept_volumes():
    assert kept_volumes(TABLES) == {("shared", "web-d0")}


LIVE = {"kind": "live", "source": "n1", "target": "n2", "source_epoch": 4}
COLD = {**LIVE, "kind": "cold"}
INBOUND = {"kind": "cold", "source": "n2", "target": "n1", "source_epoch": 4}


@pytest.mark.parametrize(
    ("vm", "status", "epoch", "have", "expect"),
    [
        # deleted: the domain goes, volumes too (except kept ones)
        (None, None, 1, True, {"remove": True, "purge_disks": True}),
        (None, None, None, False, {"remove": False, "manage": False}),
        # placed elsewhere (an HA restart): destroyed, disks kept, nothing reported
        ({"placement": "n2", "placement_epoch": 2}, None, 1, True, {"remove": True}),
        ({"placement": None}, None, 1, True, {"remove": True, "purge_disks": False}),
        ({"placement": "n2"}, None, None, False, {"remove": False, "manage": False}),
        # a copy of another epoch is restarted; one of adopt_epoch is kept
        ({"placement": "n1", "placement_epoch": 3}, None, 2, True, {"restart": True}),
        (
            {"placement": "n1", "placement_epoch": 3, "adopt_epoch": 2},
            None,
            2,
            True,
            {"restart": False, "adopt": True},
        ),
        ({"placement": "n1", "placement_epoch": 3}, None, 3, True, {"restart": False}),
        (
            {"placement": "n1", "desired": "paused"},
            None,
            None,
            False,
            {"desired": "paused", "may_start": True},
        ),
        # migration source: live -> hand over; cold -> destroy; both report stopped
        (
            {"placement": "n2", "placement_epoch": 5, "migration": LIVE},
            None,
            4,
            True,
            {"hand_over": True, "report_source": 4},
        ),
        (
            {"placement": "n2", "placement_epoch": 5, "migration": COLD},
            None,
            4,
            True,
            {"remove": True, "report_source": 4},
        ),
        (
            {"placement": "n2", "placement_epoch": 5, "migration": COLD},
            None,
            None,
            False,
            {"report_source": 4},
        ),
        (
            {"placement": "n2", "placement_epoch": 5, "migration": COLD},
            {"node": "n1", "epoch": 4, "state": "stopped"},
            None,
            False,
            {"report_source": None},
        ),
        # migration target: waits for the source's report before starting
        (
            {"placement": "n1", "placement_epoch": 5, "migration": INBOUND},
            None,
            None,
            False,
            {"manage": True, "may_start": False},
        ),
        (
            {"placement": "n1", "placement_epoch": 5, "migration": INBOUND},
            {"node": "n2", "epoch": 4, "state": "stopped"},
            None,
            False,
            {"may_start": True},
        ),
        # a stopped VM may always be defined; a fenced host starts nothing
        (
            {"placement": "n1", "desired": "stopped", "migration": INBOUND},
            None,
            None,
            False,
            {"may_start": True},
        ),
    ],
)
def test_the_safety_rule_and_hand_over(vm, status, epoch, have, expect):
    d = decide(vm, status, "n1", epoch, have)
    for k, v in expect.items():
        assert getattr(d, k) == v, (k, d)


def test_a_fenced_host_starts_nothing():
    assert not decide({"placement": "n1"}, None, "n1", None, False, fenced=True).may_start
