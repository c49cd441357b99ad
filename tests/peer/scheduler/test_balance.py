"""Balancing (DRS) recommendations."""

from peer.scheduler.balance import imbalance, recommend
from peer.scheduler.placement import Placer
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import cluster, host, running, vm


def setup(vms, status, policy=None, hosts=None):
    state = cluster(hosts or [host("h1"), host("h2")], vms, status=status)
    placer = Placer(state, policy or SchedulerPolicy(), list(state.nodes))
    return state, placer


def test_moves_running_vms_from_the_busiest_to_the_idlest_host():
    vms = [vm(f"v{i}", mem=2048, placement="h1") for i in range(6)]
    policy = SchedulerPolicy(drs_threshold=0.1, max_migrations_per_host=4)
    state, placer = setup(vms, [running(f"v{i}", "h1") for i in range(6)], policy)
    assert imbalance(placer) == 0.75
    moves = recommend(state, placer)
    assert [(m.source, m.target, m.kind) for m in moves] == [("h1", "h2", "live")] * 3
    assert imbalance(placer) == 0.0
    assert moves[0].reason == "balance: h1 is 75% loaded, h2 0%"


def test_stops_once_within_the_threshold_and_at_the_per_host_migration_limit():
    vms = [vm(f"v{i}", mem=2048, placement="h1") for i in range(6)]
    status = [running(f"v{i}", "h1") for i in range(6)]
    state, placer = setup(vms, status)  # threshold 25%: 75/0 -> 62/12 -> 50/25, stop
    assert len(recommend(state, placer)) == 2
    state, placer = setup(vms, status, SchedulerPolicy(drs_threshold=0.1))
    assert len(recommend(state, placer)) == 2  # max_migrations_per_host=2


def test_no_moves_below_the_threshold_or_for_stopped_vms():
    vms = [vm("a", mem=2048, placement="h1")]
    state, placer = setup(vms, [running("a", "h1")])
    assert recommend(state, placer) == []  # 12.5% apart, threshold 25%
    vms = [vm(f"v{i}", mem=2048, placement="h1", desired="stopped") for i in range(6)]
    state, placer = setup(vms, [])
    assert recommend(state, placer) == []


def test_balancing_respects_constraints_and_move_limit():
    hosts = [host("h1", labels={"disk": "ssd"}), host("h2")]
    vms = [vm(f"v{i}", mem=2048, placement="h1", selector={"disk": "ssd"}) for i in range(6)]
    state, placer = setup(vms, [running(f"v{i}", "h1") for i in range(6)], hosts=hosts)
    assert recommend(state, placer) == []
    vms = [vm(f"v{i}", mem=1024, placement="h1") for i in range(16)]
    policy = SchedulerPolicy(drs_max_moves=2)
    state, placer = setup(vms, [running(f"v{i}", "h1") for i in range(16)], policy)
    assert len(recommend(state, placer)) == 2


def test_recommendations_are_deterministic():
    vms = [vm(f"v{i}", mem=512 * (1 + i % 3), placement="h1") for i in range(10)]
    status = [running(f"v{i}", "h1") for i in range(10)]
    a = recommend(*setup(vms, status))
    b = recommend(*setup(vms[::-1], status[::-1]))
    assert a == b and a
