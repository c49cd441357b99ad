"""The leader loop on a LocalStore: HA restarts, idempotent take-over by a new
leader, no action without quorum, maintenance evacuation, the running loop."""

import asyncio
import time

import pytest

from peer.ha.fencing import LeaseObserver
from peer.ha.manager import HAManager
from peer.scheduler.policy import SchedulerPolicy
from raft.errors import NoQuorum
from raft.store import put
from tests.peer.ha.fakes import Clock, FlakyStore
from tests.peer.scheduler.build import host, running, vm
from tests.util import async_wait_for

FENCE, BEAT, MARGIN = 6.0, 1.0, 2.0


async def seed(store, wall, hosts, vms, status=()):
    ops = [put("pools", "shared", {"type": "dir", "shared": True})]
    ops += [put("nodes", h, v) for h, v in hosts]
    ops += [put("leases", h, {"renewed_at": wall(), "fenced": False}) for h, _ in hosts]
    ops += [put("vms", k, v) for k, v in vms]
    ops += [put("vm_status", k, v) for k, v in status]
    await store.commit(ops)


async def renew(store, wall, *nodes):
    await store.commit([put("leases", n, {"renewed_at": wall(), "fenced": False}) for n in nodes])


def manager(store, wall, mono, node="h1", **kw):
    kw.setdefault("policy", SchedulerPolicy(drs_mode="off"))
    return HAManager(
        store,
        node,
        fence_after=FENCE,
        heartbeat=BEAT,
        margin=MARGIN,
        wall=wall,
        mono=mono,
        batch=1,
        **kw,
    )


def vmrec(store, vid):
    return store.get("vms", vid).value


def events(store, kind):
    return [r.value for r in store.scan("events") if r.value["kind"] == kind]


HOSTS = [host("h1"), host("h2"), host("h3")]
VMS = [
    vm("a", placement="h2", epoch=1, ha=True, priority=1),
    vm("b", placement="h2", epoch=1, ha=True, priority=9),
    vm("plain", placement="h2", epoch=1),
    vm("d", placement="h3", epoch=1, ha=True),
]


async def advance(store, wall, mono, seconds, *alive):
    wall.advance(seconds)
    mono.advance(seconds)
    await renew(store, wall, *alive)


async def test_silent_hosts_ha_vms_restart_elsewhere_with_a_new_epoch():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, VMS)
    m = manager(store, wall, mono)
    assert (await m.step()).dead == []
    await advance(store, wall, mono, 7.5, "h3")  # h2 silent 7.5 s < fence_after + margin
    rep = await m.step()
    assert rep.dead == [] and vmrec(store, "a")["placement"] == "h2"
    await advance(store, wall, mono, 1.0, "h3")  # 8.5 s > 8 s on both clocks
    rep = await m.step()
    assert rep.dead == ["h2"]
    assert list(rep.restarted) == ["b", "a"]  # priority order
    for vid in ("a", "b"):
        rec = vmrec(store, vid)
        assert rec["placement"] in ("h1", "h3") and rec["placement_epoch"] == 2
        assert rec["ha_restarts"] == [wall()]
    assert vmrec(store, "plain")["placement"] == "h2"  # no HA: never moved
    assert vmrec(store, "plain")["placement_epoch"] == 1
    assert len(events(store, "vm.ha_restart")) == 2
    assert [e["id"] for e in events(store, "node.fenced")] == ["h2"]
    assert store.get("meta", "ha").value["dead"] == ["h2"]
    # Idempotent: another pass changes nothing.
    await advance(store, wall, mono, 1.0, "h3")
    assert (await m.step()).restarted == {}
    assert vmrec(store, "a")["placement_epoch"] == 2


async def test_host_renewing_just_before_the_restart_commit_keeps_its_vms():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, VMS)
    m = manager(store, wall, mono)
    await m.step()
    await advance(store, wall, mono, 9.0, "h3")

    def h2_comes_back(cmd):
        if any(op["op"] == "check" and op["key"] == "h2" for op in cmd["ops"]):
            store.on_commit = None
            store._apply(
                {
                    "id": "late",
                    "ts": wall(),
                    "ops": [put("leases", "h2", {"renewed_at": wall(), "fenced": False})],
                }
            )

    store.on_commit = h2_comes_back
    rep = await m.step()
    assert rep.dead == ["h2"] and rep.restarted == {}
    assert vmrec(store, "a")["placement"] == "h2" and vmrec(store, "b")["placement"] == "h2"


class CutOff:
    """One manager's view of the shared store: commits fail after ``left`` more."""

    def __init__(self, store, left):
        self._store, self.left = store, left

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def commit(self, ops, **kw):
        if self.left <= 0:
            raise NoQuorum("cut off from the majority")
        self.left -= 1
        return await self._store.commit(ops, **kw)


async def test_new_leader_completes_a_recovery_the_old_one_left_half_done():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    vms = [vm(f"v{i}", placement="h2", epoch=1, ha=True, priority=i) for i in range(4)]
    await seed(store, wall, HOSTS, vms)
    view = CutOff(store, left=100)
    old = manager(view, wall, mono, node="h1")
    new = manager(store, wall, mono, node="h3")
    await old.step()
    new.observe()  # followers watch leases too
    await advance(store, wall, mono, 9.0, "h3")
    view.left = 3  # its fresh commit and two restarts, then it is cut off
    with pytest.raises(NoQuorum):
        await old.step()
    moved = [v for v in ("v0", "v1", "v2", "v3") if vmrec(store, v)["placement"] != "h2"]
    assert moved == ["v2", "v3"]  # highest priority first, then the leader died
    await new.step()
    for i in range(4):
        rec = vmrec(store, f"v{i}")
        assert rec["placement"] in ("h1", "h3")
        assert rec["placement_epoch"] == 2 and len(rec["ha_restarts"]) == 1


async def test_leader_without_quorum_takes_no_action():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, [*VMS, vm("new")])
    m = manager(store, wall, mono)
    await m.step()
    await advance(store, wall, mono, 20.0, "h3")
    before = store.state_hash()
    store.down = True
    assert await m.step() is None
    assert store.state_hash() == before


async def test_maintenance_moves_vms_with_intents_then_settles_and_reports_drained():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    hosts = [host("h1"), host("h2", state="maintenance"), host("h3")]
    vms = [vm("up", placement="h2", epoch=1), vm("off", placement="h2", epoch=1, desired="stopped")]
    await seed(store, wall, hosts, vms, status=[running("up", "h2", epoch=1)])
    m = manager(store, wall, mono)
    rep = await m.step()
    assert rep.migrations_started == 2
    up, off = vmrec(store, "up"), vmrec(store, "off")
    assert up["migration"]["kind"] == "live" and off["migration"]["kind"] == "cold"
    assert up["migration"]["source"] == "h2" and up["migration"]["source_epoch"] == 1
    assert up["placement"] in ("h1", "h3") and up["placement_epoch"] == 2
    # The reconcilers finish the moves and report them.
    await store.commit(
        [
            put("vm_status", "up", {"node": up["placement"], "epoch": 2, "state": "running"}),
            put("vm_status", "off", {"node": off["placement"], "epoch": 2, "state": "stopped"}),
        ]
    )
    rep = await m.step()
    assert rep.migrations_finished == 2
    assert vmrec(store, "up")["migration"] is None
    assert store.get("meta", "ha").value["drained"] == ["h2"]
    assert [e["id"] for e in events(store, "node.drained")] == ["h2"]


async def test_scheduler_places_new_vms_and_an_api_edit_racing_it_wins():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, [vm("new", mem=1024)])
    m = manager(store, wall, mono)

    def api_edit(cmd):
        if any(op["table"] == "vms" and op["key"] == "new" for op in cmd["ops"]):
            store.on_commit = None
            rec = store.get("vms", "new")
            store._apply(
                {
                    "id": "api",
                    "ts": wall(),
                    "ops": [put("vms", "new", {**rec.value, "memory_mib": 2048}, rec.version)],
                }
            )

    store.on_commit = api_edit
    await m.step()
    assert vmrec(store, "new")["placement"] is None and vmrec(store, "new")["memory_mib"] == 2048
    await m.step()
    assert vmrec(store, "new")["placement"] is not None
    assert vmrec(store, "new")["memory_mib"] == 2048 and vmrec(store, "new")["placement_epoch"] == 1


async def test_unplaceable_reason_is_stored_once():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, [vm("huge", mem=1 << 20)])
    m = manager(store, wall, mono)
    await m.step()
    await m.step()
    err = vmrec(store, "huge")["placement_error"]
    assert err.startswith("cannot place huge: no host has 1024 GiB free memory")
    assert len(events(store, "vm.unplaceable")) == 1


async def test_balancing_modes():
    wall, mono = Clock(1000.0), Clock(0.0)
    vms = [vm(f"v{i}", mem=2048, placement="h1", epoch=1) for i in range(6)]
    status = [running(f"v{i}", "h1", 1) for i in range(6)]
    hosts = [host("h1"), host("h2")]
    store = FlakyStore("h1")
    await seed(store, wall, hosts, vms, status)
    await manager(store, wall, mono, policy=SchedulerPolicy(drs_mode="manual")).step()
    recs = store.get("meta", "drs").value["recommendations"]
    assert len(recs) == 2 and all(r["target"] == "h2" for r in recs)
    assert all(vmrec(store, f"v{i}").get("migration") is None for i in range(6))
    store = FlakyStore("h1")
    await seed(store, wall, hosts, vms, status)
    await store.put("meta", "scheduler", {"drs_mode": "auto"})  # cluster-wide setting
    await manager(store, wall, mono, policy=SchedulerPolicy(drs_mode="manual")).step()
    moving = [v for v in range(6) if vmrec(store, f"v{v}").get("migration") is not None]
    assert len(moving) == 2
    assert all(vmrec(store, f"v{v}")["migration"]["reason"].startswith("balance") for v in moving)


async def test_admission_warning_is_published():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    hosts = [host("h1", mem=4096), host("h2", mem=16384)]
    await seed(store, wall, hosts, [vm("a", mem=8192, placement="h2", epoch=1, ha=True)])
    await manager(store, wall, mono).step()
    adm = store.get("meta", "ha").value["admission"]
    assert adm["ok"] is False and adm["largest_host"] == "h2" and adm["stranded"] == 1
    assert len(events(store, "cluster.admission")) == 1


async def test_running_loop_places_and_fails_over_in_real_time():
    store = FlakyStore("h1")
    await seed(store, time.time, HOSTS, [vm("ha", placement="h2", epoch=1, ha=True)])
    m = HAManager(store, "h1", fence_after=0.3, heartbeat=0.05, margin=0.1)
    task = asyncio.create_task(m.run())
    stop_renewing = asyncio.Event()

    async def h3_alive():
        while not stop_renewing.is_set():
            await renew(store, time.time, "h3")
            await asyncio.sleep(0.05)

    beat = asyncio.create_task(h3_alive())
    try:
        await store.put("vms", "fresh", vm("fresh")[1])
        await async_wait_for(lambda: vmrec(store, "fresh")["placement"] in ("h1", "h3"), 5.0)
        await async_wait_for(lambda: vmrec(store, "ha")["placement"] != "h2", 5.0)
        assert vmrec(store, "ha")["placement_epoch"] == 2
    finally:
        stop_renewing.set()
        m.stop()
        await asyncio.wait_for(asyncio.gather(task, beat), 5.0)


async def test_api_migrate_tasks_become_intents_or_fail_with_a_reason():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    hosts = [host("h1"), host("h2"), host("h3", state="maintenance")]
    vms = [vm("a", placement="h1", epoch=1), vm("b", placement="h1", epoch=1)]
    await seed(store, wall, hosts, vms, status=[running("a", "h1", 1)])

    def task(vid, target):
        return {
            "kind": "migrate",
            "resource": f"vms/{vid}",
            "node": "h1",
            "state": "pending",
            "progress": 0.0,
            "cancel": False,
            "error": None,
            "user": "ann",
            "params": {"target": target, "live": True},
        }

    await store.commit([put("tasks", "t1", task("a", None)), put("tasks", "t2", task("b", "h3"))])
    m = manager(store, wall, mono)
    await m.step()
    a, t1, t2 = vmrec(store, "a"), store.get("tasks", "t1").value, store.get("tasks", "t2").value
    assert a["placement"] == "h2" and a["migration"]["kind"] == "live"
    assert a["migration"]["task"] == "t1" and a["migration"]["reason"] == "requested by ann"
    assert t1["state"] == "running" and t1["params"]["target"] == "h2"
    assert t2["state"] == "failed"
    assert t2["error"] == "h3 cannot take b: no host is available for VMs (h3 is in maintenance)"
    await store.put("vm_status", "a", {"node": "h2", "epoch": 2, "state": "running"})
    await m.step()
    assert store.get("tasks", "t1").value["state"] == "done"
    assert vmrec(store, "a")["migration"] is None


async def test_vms_of_a_host_whose_records_vanished_are_still_recovered():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, [host("h1"), host("h3")], [vm("orphan", placement="gone", ha=True)])
    m = manager(store, wall, mono)
    await m.step()
    await advance(store, wall, mono, 9.0, "h3")
    rep = await m.step()
    assert rep.dead == ["gone"] and vmrec(store, "orphan")["placement"] in ("h1", "h3")


async def test_a_complaint_is_cleared_once_the_vm_is_settled_again():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    hosts = [host("h1"), host("h2", state="maintenance")]
    pools = {"pool": "local-h2"}
    await seed(store, wall, hosts, [vm("stuck", placement="h2", epoch=1, **pools)])
    m = manager(store, wall, mono)
    await m.step()
    assert "cannot leave h2 for maintenance" in vmrec(store, "stuck")["placement_error"]
    rec = store.get("nodes", "h2")
    await store.put("nodes", "h2", {**rec.value, "state": "active"})
    await m.step()
    assert vmrec(store, "stuck")["placement_error"] is None


async def test_a_pass_soon_after_a_fresh_commit_places_but_judges_no_lease():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, VMS)
    m = manager(store, wall, mono)
    await m.step()
    lease_version = store.get("leases", "h1").version
    await store.put("vms", "late", vm("late")[1])
    mono.advance(0.1)
    rep = await m.step()
    assert store.get("leases", "h1").version == lease_version  # no fresh commit
    assert vmrec(store, "late")["placement"] is not None and rep.dead == []
    mono.advance(0.5)
    await m.step()
    assert store.get("leases", "h1").version == lease_version + 1


async def test_failed_live_migration_goes_back_to_its_source_and_is_not_retried_at_once():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    hosts = [host("h1"), host("h2", state="maintenance"), host("h3")]
    await seed(store, wall, hosts, [vm("up", placement="h2", epoch=1)], [running("up", "h2", 1)])
    m = manager(store, wall, mono)
    await m.step()
    assert vmrec(store, "up")["migration"]["kind"] == "live"
    await store.put(
        "vm_status",
        "up",
        {"node": "h2", "epoch": 1, "state": "running", "migration_error": "no route to h3"},
    )
    mono.advance(1.0)
    await m.step()
    rec = vmrec(store, "up")
    assert rec["placement"] == "h2" and rec["placement_epoch"] == 3 and rec["migration"] is None
    assert rec["adopt_epoch"] == 1 and rec["migration_failed_at"] == wall()
    assert "its last migration failed" in rec["placement_error"]
    assert len(events(store, "vm.migration_failed")) == 1
    wall.advance(301.0)
    mono.advance(301.0)
    await renew(store, wall, "h2", "h3")
    await m.step()
    assert vmrec(store, "up")["migration"] is not None  # tried again after the pause
    assert "adopt_epoch" not in vmrec(store, "up")


async def test_a_dead_host_stays_dead_in_quick_passes_and_is_announced_once():
    store, wall, mono = FlakyStore("h1"), Clock(1000.0), Clock(0.0)
    await seed(store, wall, HOSTS, VMS)
    m = manager(store, wall, mono)
    await m.step()
    for _ in range(9):
        await advance(store, wall, mono, 1.0, "h1", "h3")
        await m.step()
    assert store.get("meta", "ha").value["dead"] == ["h2"]
    for i in range(6):  # quick passes (a change soon after a fresh commit), then full
        await store.put("vms", f"new{i}", vm(f"new{i}")[1])
        mono.advance(0.1)
        rep = await m.step()
        assert rep.dead == ["h2"] and store.get("meta", "ha").value["dead"] == ["h2"]
        await advance(store, wall, mono, 1.0, "h1", "h3")
        await m.step()
    assert len(events(store, "node.fenced")) == 1


def test_silent_hosts_are_those_whose_lease_stood_still_past_fence_after():
    from peer.scheduler.model import Lease

    obs = LeaseObserver()
    obs.observe(
        {"h1", "h2"}, {"h1": Lease("h1", 1.0, False, 3), "h2": Lease("h2", 1.0, False, 7)}, 0.0
    )
    obs.observe(
        {"h1", "h2"}, {"h1": Lease("h1", 5.0, False, 4), "h2": Lease("h2", 1.0, False, 7)}, 5.0
    )
    assert obs.silent(6.5, FENCE) == {"h2"}
    assert obs.silent(5.9, FENCE) == set()
