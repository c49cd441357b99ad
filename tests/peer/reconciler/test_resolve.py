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


def test_unknown_image_is_a_resolve_error():
    with pytest.raises(ResolveError, match="image 'nope' does not exist"):
        resolve_spec({"disks": [{"size_gib": 1, "image": "nope"}]}, TABLES)


def test_kept_volumes():
    assert kept_volumes(TABLES) == {("shared", "web-d0")}


@pytest.mark.parametrize(
    ("vm", "epoch", "state", "expect"),
    [
        (None, 1, "running", {"remove": True, "purge_disks": True}),
        (None, None, None, {"remove": False, "manage": False}),
        ({"placement": "n2", "placement_epoch": 2}, 1, "running", {"remove": True}),
        ({"placement": None}, 1, "running", {"remove": True, "purge_disks": False}),
        ({"placement": "n2"}, None, None, {"remove": False, "manage": False}),
        ({"placement": "n1", "placement_epoch": 3}, 2, "running", {"manage": True, "stale": True}),
        ({"placement": "n1", "placement_epoch": 3}, 2, "stopped", {"stale": False}),
        ({"placement": "n1", "placement_epoch": 3}, 3, "running", {"stale": False}),
        ({"placement": "n1", "desired": "paused"}, None, None, {"desired": "paused"}),
    ],
)
def test_the_safety_rule(vm, epoch, state, expect):
    d = decide(vm, "n1", epoch, state)
    for k, v in expect.items():
        assert getattr(d, k) == v, (k, d)
