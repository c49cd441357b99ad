"""The evacuation plan of a host entering maintenance, and migration outcomes."""

from peer.ha.maintenance import draining_hosts, plan_evacuation
from peer.ha.migrations import migration_outcomes
from peer.scheduler.placement import Placer, eligible_hosts
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import NOW, cluster, host, running, vm


def evacuate(state, policy=None):
    alive = list(state.nodes)
    ok, why = eligible_hosts(state, NOW, 6.0)
    placer = Placer(state, policy or SchedulerPolicy(), ok, why)
    return plan_evacuation(state, placer, draining_hosts(state, alive))


def test_running_vms_move_live_and_the_rest_cold():
    state = cluster(
        [host("h1", state="maintenance"), host("h2"), host("h3")],
        [vm("up", placement="h1"), vm("down", placement="h1", desired="stopped")],
        status=[running("up", "h1")],
    )
    plan = evacuate(state)
    assert sorted((m.vm, m.kind) for m in plan.moves) == [("down", "cold"), ("up", "live")]
    assert {m.source for m in plan.moves} == {"h1"}
    assert {m.target for m in plan.moves} == {"h2", "h3"}  # spread, not piled up
    assert plan.drained == []


def test_at_most_n_migrations_leave_a_host_at_once():
    state = cluster(
        [host("h1", state="maintenance"), host("h2")],
        [vm(f"v{i}", placement="h1") for i in range(5)]
        + [vm("busy", placement="h2", migration={"kind": "live", "source": "h1"})],
    )
    plan = evacuate(state, SchedulerPolicy(max_migrations_per_host=3))
    assert len(plan.moves) == 2  # 3 allowed, one already in flight


def test_vm_that_fits_nowhere_stays_with_its_reason_and_host_is_not_drained():
    pools = [("local-h1", {"shared": False, "nodes": ["h1"]})]
    state = cluster(
        [host("h1", state="maintenance"), host("h2")],
        [vm("pinned", placement="h1", pool="local-h1")],
        pools=pools,
    )
    plan = evacuate(state)
    assert plan.moves == [] and plan.drained == []
    assert plan.blocked["pinned"] == (
        "pinned cannot leave h1 for maintenance: storage pool 'local-h1' is visible only on h1"
        " (not considered: h1 is in maintenance)"
    )


def test_empty_host_in_maintenance_is_reported_drained():
    state = cluster([host("h1", state="maintenance"), host("h2")], [vm("a", placement="h2")])
    assert evacuate(state).drained == ["h1"]


def test_migration_finished_when_target_reports_current_epoch():
    mig = {"kind": "live", "source": "h1", "target": "h2", "source_epoch": 1}
    state = cluster(
        [host("h1"), host("h2")],
        [
            vm("a", placement="h2", epoch=2, migration=mig),
            vm("b", placement="h2", epoch=2, migration=mig),
        ],
        status=[running("a", "h2", epoch=2), running("b", "h1", epoch=1)],
    )
    out = migration_outcomes(state)
    assert out.finished == ["a"] and out.failed == {}


def test_migration_failed_when_source_reports_an_error():
    mig = {"kind": "live", "source": "h1", "target": "h2", "source_epoch": 1}
    status = [("a", {"node": "h1", "epoch": 1, "state": "running", "migration_error": "boom"})]
    state = cluster(
        [host("h1"), host("h2")],
        [vm("a", placement="h2", epoch=2, migration=mig)],
        status=status,
    )
    assert migration_outcomes(state).failed == {"a": ("h1", "boom")}
