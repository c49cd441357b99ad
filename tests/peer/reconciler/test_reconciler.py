"""The reconciler with a LocalStore, the real embedded QEMU driver and the test guest."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hypervisor.errors import DomainNotFound
from hypervisor.spec import parse_spec
from peer.reconciler import Reconciler
from raft.store import LocalStore
from testkit.guest import MARKER
from tests.hypervisor.embed import guest_spec, new_id, wait_serial
from tests.util import async_wait_for

NODE = "n1"


async def wait_status(store, vm_id, pred, timeout=30.0):
    def matched():
        st = store.get("vm_status", vm_id)
        return st.value if st is not None and pred(st.value) else None

    def now():
        st = store.get("vm_status", vm_id)
        return st.value if st else None

    return await async_wait_for(matched, timeout, f"the status of {vm_id}", 0.02, now)


async def wait_gone(drv, vm_id, timeout=30.0):
    def gone():
        try:
            drv.domain_info(vm_id)
        except DomainNotFound:
            return True
        return False

    await async_wait_for(gone, timeout, f"the domain of {vm_id} gone", 0.05)


def record(**kw):
    return {
        "name": kw.pop("name", "vm"),
        "placement": NODE,
        "placement_epoch": 1,
        "desired": "running",
        **guest_spec(),
        **kw,
    }


@pytest.fixture
async def env(drv, request):
    store = LocalStore(NODE)
    await store.put("pools", "local", {"type": "dir", "path": drv.pools["local"], "shared": False})
    mark = request.node.get_closest_marker("resync_s")
    resync = float(mark.args[0]) if mark else 5.0
    rec = Reconciler(store, drv, NODE, resync_interval=resync, shutdown_timeout=20.0)
    await rec.start()
    yield store, rec
    await rec.stop()


async def test_placed_vm_runs_stops_gracefully_and_is_deleted_with_its_disks(env, drv):
    store, _ = env
    vm = new_id()
    await store.put("volumes", f"{vm}-v0", {"pool": "local", "name": f"{vm}-d0", "vm": vm})
    await store.put(
        "vms",
        vm,
        record(disks=[{"id": "d0", "pool": "local", "volume": f"{vm}-v0", "size_gib": 0.05}]),
    )
    st = await wait_status(store, vm, lambda s: s["state"] == "running")
    assert st["node"] == NODE and st["epoch"] == 1 and st["error"] is None
    assert Path(st["console"]["vnc_socket"]).is_socket()
    assert st["agent"]["socket"].endswith("agent.sock")
    wait_serial(drv, vm, MARKER)
    assert store.get("volumes", f"{vm}-v0").value["state"] == "ready"
    # desired stopped: ACPI shutdown, the guest powers off, the status follows.
    cur = store.get("vms", vm)
    await store.put("vms", vm, dict(cur.value, desired="stopped"))
    st = await wait_status(store, vm, lambda s: s["state"] == "stopped")
    assert st["reason"] == "shutdown" and st["console"] is None
    # The record deleted (volume records too, as the API does): domain and disk go.
    await store.commit(
        [
            {"op": "delete", "table": "vms", "key": vm, "expect": None},
            {"op": "delete", "table": "volumes", "key": f"{vm}-v0", "expect": None},
        ]
    )
    await wait_gone(drv, vm)
    deadline = time.monotonic() + 10
    while store.get("vm_status", vm) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert store.get("vm_status", vm) is None
    assert f"{vm}-d0" not in [v.name for v in drv.list_volumes("local")]
    assert not Path(drv.paths(vm).dir).exists()


async def test_a_snapshot_of_a_running_guest_is_not_an_error(env, drv):
    """libvirt pauses the guest while it saves its memory, then resumes it: that
    pause is libvirt's own, and the reconciler must not fight it."""
    store, rec = env
    vm = new_id()
    await store.put("volumes", f"{vm}-v0", {"pool": "local", "name": f"{vm}-d0", "vm": vm})
    disks = [{"id": "d0", "pool": "local", "volume": f"{vm}-v0", "size_gib": 0.05}]
    await store.put("vms", vm, record(disks=disks))
    await wait_status(store, vm, lambda s: s["state"] == "running")
    wait_serial(drv, vm, MARKER)
    seen = []
    watch = store.watch(["vm_status"], from_revision=store.revision)
    for i in range(3):
        await asyncio.to_thread(drv.snapshot_create, vm, f"s{i}")
    await rec.wait_idle()
    st = await wait_status(store, vm, lambda s: s["state"] == "running")
    with watch:
        while not watch.queue.empty():
            seen.append(watch.queue.get_nowait().value)
    assert st["error"] is None
    assert [v for v in seen if v and v.get("state") == "error"] == []
    await store.delete("vms", vm)
    await wait_gone(drv, vm)


async def test_kept_volumes_survive_the_deleted_vm(env, drv):
    store, _ = env
    vm = new_id()
    await store.put("volumes", f"{vm}-v0", {"pool": "local", "name": f"{vm}-d0", "vm": vm})
    disks = [{"id": "d0", "pool": "local", "volume": f"{vm}-v0", "size_gib": 0.05}]
    await store.put("vms", vm, record(desired="stopped", disks=disks))
    await wait_status(store, vm, lambda s: s["state"] == "stopped")
    await store.delete("vms", vm)  # keep_volumes: the volume record stays
    await wait_gone(drv, vm)
    assert f"{vm}-d0" in [v.name for v in drv.list_volumes("local")]
    drv.delete_volume("local", f"{vm}-d0")


async def test_events_reach_the_status_within_a_second(env, drv):
    store, _ = env
    vm = new_id()
    await store.put("vms", vm, record())
    await wait_status(store, vm, lambda s: s["state"] == "running")
    wait_serial(drv, vm, MARKER)
    # Desired state through the store: a watch, no polling.
    cur = store.get("vms", vm)
    t0 = time.monotonic()
    await store.put("vms", vm, dict(cur.value, desired="paused"))
    await wait_status(store, vm, lambda s: s["state"] == "paused", timeout=5)
    assert time.monotonic() - t0 < 1.0
    # A libvirt event: someone pauses/resumes the domain behind our back.
    cur = store.get("vms", vm)
    await store.put("vms", vm, dict(cur.value, desired="running"))
    await wait_status(store, vm, lambda s: s["state"] == "running", timeout=5)
    # The guest powers itself off (ACPI from outside the reconciler): the status
    # follows within a second of the event, and desired follows the guest's wish.
    stopped_at = []
    unsub = drv.subscribe(
        lambda e: e.vm_id == vm and e.event == "stopped" and stopped_at.append(time.monotonic())
    )
    try:
        drv.conn.domain(f"qx-{vm}").shutdown_acpi()
        st = await wait_status(store, vm, lambda s: s["state"] == "stopped", timeout=20)
        seen_at = time.monotonic()
    finally:
        unsub()
    assert st["reason"] == "shutdown"
    assert stopped_at and seen_at - stopped_at[0] < 1.0  # libvirt event -> vm_status
    assert store.get("vms", vm).value["desired"] == "stopped"
    await store.delete("vms", vm)
    await wait_gone(drv, vm)


async def test_a_domain_of_a_vm_placed_elsewhere_is_destroyed(env, drv):
    store, _ = env
    vm = new_id()
    # The VM was ours at epoch 1 and runs here; the leader moves it to n2 (epoch 2).
    await store.put("vms", vm, record(desired="running"))
    await wait_status(store, vm, lambda s: s["state"] == "running")
    cur = store.get("vms", vm)
    await store.put("vms", vm, dict(cur.value, placement="n2", placement_epoch=2))
    await wait_gone(drv, vm, timeout=5)


async def test_a_running_domain_of_an_older_epoch_is_forced_off_and_restarted(env, drv):
    store, rec = env
    vm = new_id()
    # A domain left running from epoch 1 (e.g. this host was cut off meanwhile).
    drv.create(parse_spec(vm, guest_spec()), epoch=1)
    drv.start(vm)
    await store.put("vms", vm, record(placement_epoch=3))
    st = await wait_status(store, vm, lambda s: s["state"] == "running" and s["epoch"] == 3)
    assert drv.domain_info(vm).epoch == 3
    assert rec.status()["reconciler"]["errors"] == {}
    await store.delete("vms", vm)
    await wait_gone(drv, vm)
    del st


async def test_running_vms_are_adopted_by_a_new_reconciler(env, drv):
    store, rec = env
    vm = new_id()
    await store.put("vms", vm, record())
    await wait_status(store, vm, lambda s: s["state"] == "running")
    wait_serial(drv, vm, MARKER)
    await rec.stop()
    pid_file = Path(drv.root, "run", "qemu", f"qx-{vm}.pid")
    pid = pid_file.read_text().strip()
    again = Reconciler(store, drv, NODE)
    await again.start()
    try:
        await again.wait_idle()
        assert drv.domain_info(vm).state == "running"
        assert pid_file.read_text().strip() == pid  # the same QEMU: adopted, not restarted
        assert store.get("vm_status", vm).value["state"] == "running"
    finally:
        await store.delete("vms", vm)
        await wait_gone(drv, vm)
        await again.stop()


async def test_failures_are_recorded_and_leave_nothing(env, drv):
    store, _ = env
    # Unknown image: nothing is defined, the status says why.
    bad = new_id()
    await store.put("vms", bad, record(disks=[{"id": "d0", "size_gib": 1, "image": "no-such"}]))
    st = await wait_status(store, bad, lambda s: s["state"] == "error")
    assert st["error_step"] == "resolve" and "no-such" in st["error"]
    with pytest.raises(DomainNotFound):
        drv.domain_info(bad)
    # A libvirt failure at start: the error carries libvirt's message; no QEMU, no socket.
    vm = new_id()
    nic = [{"network": "qxnosuchbr1", "mac": "52:54:00:00:11:22"}]
    await store.put(
        "vms", vm, record(nics=nic, disks=[{"id": "d0", "pool": "local", "size_gib": 0.05}])
    )
    st = await wait_status(store, vm, lambda s: s["state"] == "error")
    assert st["error_step"] == "start" and "qxnosuchbr1" in st["error"]
    assert st["power_state"] == "stopped"
    assert not any(p.is_socket() for p in Path(drv.paths(vm).dir).iterdir())
    events = [e.value for e in store.scan("events") if e.value["id"] == vm]
    assert any(e["kind"] == "vm.error" and "qxnosuchbr1" in e["message"] for e in events)
    for v in (bad, vm):
        await store.delete("vms", v)
    await wait_gone(drv, vm)
    assert not Path(drv.paths(vm).dir).exists()
    assert not [v for v in drv.list_volumes("local") if v.name.startswith(vm)]


async def live_intent_to_n2(store, vm):
    """A running guest here (epoch 4), then the leader's live move to n2 (epoch 5)."""
    await store.put("vms", vm, record(placement_epoch=4))
    await wait_status(store, vm, lambda s: s["state"] == "running" and s["epoch"] == 4)
    cur = store.get("vms", vm).value
    intent = {"kind": "live", "source": NODE, "target": "n2", "source_epoch": 4}
    await store.put("vms", vm, dict(cur, placement="n2", placement_epoch=5, migration=intent))


def offer(uri, error=None):
    incoming = {"uri": uri, "error": error, "source": NODE, "source_epoch": 4}
    return {"node": "n2", "epoch": 5, "state": "migrating", "incoming": incoming}


async def test_a_source_whose_target_cannot_receive_live_moves_it_cold(env, drv):
    store, _ = env
    vm = new_id()
    await live_intent_to_n2(store, vm)
    wait_serial(drv, vm, MARKER)
    await store.put("vm_status", vm, offer(None, "this driver cannot receive a live migration"))
    # The guest is shut down (it sees the ACPI button), the copy removed, and
    # the hand-over reported for epoch 4: the target boots it.
    st = await wait_status(store, vm, lambda s: s.get("reason") == "handed_over", timeout=90)
    assert (st["node"], st["epoch"], st["state"]) == (NODE, 4, "stopped")
    with pytest.raises(DomainNotFound):
        drv.domain_info(vm)
    await store.delete("vms", vm)


async def test_a_failed_live_migration_leaves_the_guest_running_and_says_why(env, drv):
    store, _ = env
    vm = new_id()
    await live_intent_to_n2(store, vm)
    wait_serial(drv, vm, MARKER)
    # An offer nobody listens behind (port 9 on loopback): QEMU's connect fails.
    await store.put("vm_status", vm, offer("tcp:127.0.0.1:9"))
    st = await wait_status(store, vm, lambda s: s.get("migration_error"))
    assert (st["node"], st["epoch"], st["state"]) == (NODE, 4, "running")
    assert drv.domain_info(vm).state == "running"  # the guest never stopped
    await store.delete("vms", vm)
    await wait_gone(drv, vm)


@pytest.mark.resync_s(3600)  # the source's report itself must wake the target
async def test_migration_target_waits_for_the_sources_report(env, drv):
    store, rec = env
    vm = new_id()
    intent = {"kind": "cold", "source": "n2", "target": NODE, "source_epoch": 4}
    await store.put("vms", vm, record(placement_epoch=5, migration=intent))
    await asyncio.sleep(0.5)
    await rec.wait_idle()
    with pytest.raises(DomainNotFound):
        drv.domain_info(vm)  # nothing defined while the source may still run it
    assert store.get("vm_status", vm) is None  # and nothing reported
    # The source reports its copy stopped: now the target starts its own.
    await store.put(
        "vm_status", vm, {"node": "n2", "epoch": 4, "state": "stopped", "reason": "handed_over"}
    )
    st = await wait_status(
        store, vm, lambda s: s["node"] == NODE and s["state"] == "running", timeout=20
    )
    assert st["epoch"] == 5
    await store.delete("vms", vm)
    await wait_gone(drv, vm)
