"""The driver against libvirt's in-memory test driver: fast checks of the contract."""

import time

import pytest

from hypervisor.errors import (
    DomainExists,
    DomainNotFound,
    HypervisorError,
    InvalidState,
    SnapshotNotFound,
    VolumeNotFound,
)
from hypervisor.libvirt_driver import LibvirtDriver
from hypervisor.spec import parse_spec
from tests.hypervisor.embed import new_id


@pytest.fixture(scope="module")
def tdrv(tmp_path_factory):
    d = tmp_path_factory.mktemp("testdrv")
    drv = LibvirtDriver("test:///default", run_dir=d / "vms", pools={"local": str(d / "pool")})
    yield drv
    drv.close()


def spec(vm_id, **kw):
    raw = {"memory_mib": 128, "disks": [{"id": "d0", "size_gib": 1}], **kw}
    return parse_spec(vm_id, raw)


def test_host_info_reports_the_test_driver(tdrv):
    info = tdrv.host_info()
    assert info["driver"] == "TEST" and info["accel"]["domain_type"] == "test"
    assert "local" in [p["name"] for p in info["pools"]]


def test_lifecycle_and_events(tdrv):
    vm = new_id()
    seen = []
    unsub = tdrv.subscribe(seen.append)
    try:
        info = tdrv.create(spec(vm), epoch=4)
        assert (info.state, info.epoch, info.vcpus, info.memory_mib) == ("stopped", 4, 1, 128)
        assert tdrv.start(vm).state == "running"
        with pytest.raises(InvalidState):
            tdrv.start(vm)
        tdrv.pause(vm)
        assert tdrv.domain_info(vm).state == "paused"
        tdrv.resume(vm)
        assert tdrv.shutdown(vm, timeout=2) == "shutdown"
        assert tdrv.shutdown(vm) == "already_stopped"
        tdrv.start(vm)
        tdrv.stop(vm)
        assert tdrv.domain_info(vm).state == "stopped"
        tdrv.stop(vm)  # idempotent
        # Events arrive on libvirt's event thread, just after the calls return.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e.event == "stopped" for e in seen):
            time.sleep(0.02)
    finally:
        unsub()
        tdrv.delete(vm, remove_disks=True)
    events = [(e.event, e.detail) for e in seen if e.vm_id == vm]
    assert ("started", "booted") in events and ("suspended", "paused") in events
    assert any(e == "stopped" for e, _ in events)


def test_our_errors_carry_status_code_and_libvirts_message(tdrv):
    with pytest.raises(DomainNotFound) as e:
        tdrv.domain_info("nope")
    assert e.value.status == 404 and e.value.code == "domain_not_found"
    vm = new_id()
    tdrv.create(spec(vm))
    try:
        with pytest.raises(DomainExists):
            tdrv.create(spec(vm))
        with pytest.raises(SnapshotNotFound) as e2:
            tdrv.snapshot_revert(vm, "missing")
        assert "libvirt" in e2.value.details
        with pytest.raises(InvalidState) as e3:
            tdrv.resume(vm)
        assert isinstance(e3.value, HypervisorError)
    finally:
        tdrv.delete(vm, remove_disks=True)
    with pytest.raises(DomainNotFound):
        tdrv.delete(vm)


def test_snapshots_resize_and_delete_keeping_or_removing_disks(tdrv):
    vm = new_id()
    tdrv.create(spec(vm))
    tdrv.start(vm)
    tdrv.snapshot_create(vm, "before", "first one")
    assert [s["name"] for s in tdrv.snapshot_list(vm)] == ["before"]
    assert tdrv.snapshot_list(vm)[0]["description"] == "first one"
    tdrv.snapshot_revert(vm, "before")
    tdrv.snapshot_delete(vm, "before")
    assert tdrv.snapshot_list(vm) == []
    with pytest.raises(InvalidState):
        tdrv.resize(vm, 2, 256)
    tdrv.stop(vm)
    info = tdrv.resize(vm, 2, 256)
    assert (info.vcpus, info.memory_mib) == (2, 256)
    tdrv.delete(vm, remove_disks=False)
    assert f"{vm}-d0.qcow2" in [v.name for v in tdrv.list_volumes("local")]
    tdrv.delete_volume("local", f"{vm}-d0.qcow2")
    with pytest.raises(VolumeNotFound):
        tdrv.delete_volume("local", f"{vm}-d0.qcow2")


def test_volumes_create_clone_and_delete(tdrv):
    base = tdrv.create_volume("local", "base.qcow2", 1 << 30)
    clone = tdrv.clone_volume("local", "base.qcow2", "clone.qcow2")
    assert clone.capacity == base.capacity and clone.backing == base.path
    for n in ("clone.qcow2", "base.qcow2"):
        tdrv.delete_volume("local", n)
    assert {"base.qcow2", "clone.qcow2"}.isdisjoint(v.name for v in tdrv.list_volumes("local"))
