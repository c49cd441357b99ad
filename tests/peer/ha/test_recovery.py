"""Which VMs of a dead host are restarted, where, and in which order."""

from peer.ha.fencing import DeadNode
from peer.ha.recovery import plan_recovery
from peer.scheduler.placement import Placer
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import NOW, cluster, host, vm

DEAD = {"h1": DeadNode("h1", 5)}


def plan(state, alive=("h2", "h3"), now=NOW):
    ok = [h for h in alive if state.nodes[h].state == "active"]
    placer = Placer(state, SchedulerPolicy(), ok)
    return plan_recovery(state, placer, DEAD, alive, now)


def test_ha_vms_restart_elsewhere_and_non_ha_vms_stay():
    state = cluster(
        [host("h1"), host("h2"), host("h3")],
        [vm("ha1", placement="h1", ha=True), vm("plain", placement="h1"), vm("ok", placement="h2")],
    )
    p = plan(state)
    assert [(r.vm, r.source, r.target, r.lease_version, r.kind) for r in p.restarts] == [
        ("ha1", "h1", "h3", 5, "restart")
    ]
    assert p.refused == {}


def test_restart_in_priority_order_when_capacity_is_short():
    state = cluster(
        [host("h1"), host("h2", mem=4096)],
        [
            vm("low", mem=2048, placement="h1", ha=True, priority=1),
            vm("high", mem=4096, placement="h1", ha=True, priority=100),
        ],
    )
    p = plan(state, alive=("h2",))
    assert [r.vm for r in p.restarts] == ["high"]
    assert p.refused["low"].startswith("HA restart of low is waiting: no host has 2 GiB free")


def test_vms_not_meant_to_run_are_not_restarted():
    state = cluster(
        [host("h1"), host("h2")], [vm("off", placement="h1", ha=True, desired="stopped")]
    )
    assert plan(state, alive=("h2",)).restarts == []


def test_max_restarts_within_the_window_is_respected():
    ha = {"enabled": True, "priority": 0, "max_restarts": 2, "window_s": 600}
    hosts = [host("h1"), host("h2")]
    twice = vm("v", placement="h1", ha=ha, ha_restarts=[NOW - 500, NOW - 100])
    p = plan(cluster(hosts, [twice]), alive=("h2",))
    assert p.restarts == []
    assert p.refused["v"] == (
        "HA will not restart v again: restarted 2 times within 600 s (limit 2)"
    )
    # One of the two is now older than the window: it no longer counts.
    old = vm("v", placement="h1", ha=ha, ha_restarts=[NOW - 700, NOW - 100])
    assert [r.vm for r in plan(cluster(hosts, [old]), alive=("h2",)).restarts] == ["v"]


def test_migration_to_a_dead_target_goes_back_to_its_live_source_even_without_ha():
    mig = {"kind": "live", "source": "h2", "target": "h1", "source_epoch": 3}
    state = cluster(
        [host("h1"), host("h2", state="maintenance"), host("h3")],
        [vm("m", placement="h1", epoch=4, migration=mig)],
    )
    p = plan(state)
    assert [(r.vm, r.target, r.kind) for r in p.restarts] == [("m", "h2", "revert")]


def test_migration_from_a_dead_source_is_adopted_by_its_target():
    mig = {"kind": "live", "source": "h1", "target": "h2", "source_epoch": 3}
    state = cluster([host("h1"), host("h2")], [vm("m", placement="h2", epoch=4, migration=mig)])
    p = plan(state, alive=("h2",))
    assert [(r.vm, r.source, r.target, r.kind) for r in p.restarts] == [("m", "h1", "h2", "adopt")]


def test_restarts_respect_anti_affinity():
    groups = [("db", {"kind": "anti_affinity", "vms": ["a", "b"]})]
    state = cluster(
        [host("h1"), host("h2"), host("h3")],
        [vm("a", placement="h1", ha=True), vm("b", placement="h2")],
        groups=groups,
    )
    assert [r.target for r in plan(state).restarts] == ["h3"]
