"""Properties of the HA rules over generated timelines."""

from hypothesis import given, settings
from hypothesis import strategies as st

from peer.ha.fencing import DeadNode, LeaseObserver, dead_nodes, default_margin
from peer.ha.maintenance import draining_hosts, plan_evacuation
from peer.ha.recovery import plan_recovery
from peer.scheduler import records
from peer.scheduler.model import Lease
from peer.scheduler.placement import Placer
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import NOW, cluster, host, vm


@settings(max_examples=300, deadline=None)
@given(
    heartbeat=st.floats(0.1, 2.0),
    fence_factor=st.floats(3.0, 10.0),
    commit_delay=st.floats(0.0, 1.0),  # fraction of a heartbeat between send and commit
    observe_delay=st.floats(0.0, 2.0),  # leader applies the entry this much later
    skew=st.floats(-0.5, 0.5),  # fraction of the margin the leader's wall clock is off
    lateness=st.floats(0.0, 0.2),  # the peer's fence timer fires late
    kill=st.floats(0.0, 0.5),  # time to kill the guests
    phase=st.floats(0.0, 1.0),
)
def test_no_restart_before_the_silent_peer_has_fenced(
    heartbeat, fence_factor, commit_delay, observe_delay, skew, lateness, kill, phase
):
    fence_after = heartbeat * fence_factor
    margin = default_margin(heartbeat)
    sent = 100.0  # the peer's last renewal that committed was sent at this (true) time
    applied_at_leader = sent + commit_delay * heartbeat + observe_delay
    guests_gone = sent + fence_after + lateness + kill
    obs = LeaseObserver()
    lease = {"p": Lease("p", sent, False, 9)}  # renewed_at: the peer's clock at the send
    t = sent + phase * heartbeat
    first_restart = None
    while t < sent + fence_after + 2 * margin + 10 * heartbeat + observe_delay:
        if t >= applied_at_leader:
            obs.observe(["p"], lease, now=t)  # the leader's passes (monotonic = true time)
            dead = dead_nodes(
                ["p"],
                lease,
                obs,
                committed_now=t + skew * margin,
                mono_now=t,
                fence_after=fence_after,
                margin=margin,
                me="leader",
            )
            if dead:
                first_restart = t
                break
        t += heartbeat
    assert first_restart is not None  # it does happen...
    assert first_restart > guests_gone  # ...but only once the guests are gone


@settings(max_examples=200, deadline=None)
@given(
    failures=st.lists(st.floats(0.0, 20_000.0), min_size=1, max_size=12),
    max_restarts=st.integers(0, 4),
    window=st.sampled_from([600.0, 3600.0]),
)
def test_restarts_within_any_window_never_exceed_the_limit(failures, max_restarts, window):
    ha = {"enabled": True, "priority": 0, "max_restarts": max_restarts, "window_s": window}
    hosts = [host("a"), host("b")]
    _, value = vm("v", placement="a", ha=ha)
    done: list[float] = []
    for now in sorted(failures):
        where = value["placement"]
        state = cluster(hosts, [("v", value)])
        alive = [h for h in ("a", "b") if h != where]
        placer = Placer(state, SchedulerPolicy(), alive)
        plan = plan_recovery(state, placer, {where: DeadNode(where, 1)}, alive, now)
        if plan.restarts:
            value = records.restarted(state.vms["v"], plan.restarts[0].target, now)
            done.append(now)
        else:
            assert "will not restart" in plan.refused["v"]
    for t in done:
        assert sum(1 for u in done if t - window < u <= t) <= max_restarts


@st.composite
def busy_clusters(draw):
    hosts = [
        host(
            f"h{i}",
            cpus=draw(st.integers(2, 8)),
            mem=draw(st.sampled_from([4096, 8192])),
            state=draw(st.sampled_from(["active", "active", "maintenance"])),
        )
        for i in range(draw(st.integers(2, 5)))
    ]
    names = [h for h, _ in hosts]
    vms = [
        vm(
            f"v{i:02d}",
            vcpus=draw(st.integers(1, 4)),
            mem=draw(st.sampled_from([512, 1024, 2048])),
            placement=draw(st.sampled_from(names)),
            ha=draw(st.booleans()),
            priority=draw(st.integers(0, 3)),
        )
        for i in range(draw(st.integers(0, 20)))
    ]
    dead = draw(st.sets(st.sampled_from(names), max_size=2))
    return hosts, vms, dead


def usage(state, moves):
    """vCPUs and memory booked per host once ``moves`` (vm -> host) are applied."""
    cpu, mem = {}, {}
    for v in state.vms.values():
        h = moves.get(v.id, v.placement)
        cpu[h] = cpu.get(h, 0) + v.vcpus
        mem[h] = mem.get(h, 0) + v.memory_mib
    return cpu, mem


@settings(max_examples=150, deadline=None)
@given(busy_clusters())
def test_recovery_and_evacuation_never_overfill_or_use_unavailable_hosts(c):
    hosts, vms, dead_set = c
    state = cluster(hosts, vms)
    alive = [h for h, _ in hosts if h not in dead_set]
    ok = [h for h in alive if state.nodes[h].state == "active"]
    policy = SchedulerPolicy()
    placer = Placer(state, policy, ok)
    dead = {h: DeadNode(h, 1) for h in dead_set}
    plan = plan_recovery(state, placer, dead, alive, NOW)
    moves = {r.vm: r.target for r in plan.restarts}
    evac = plan_evacuation(state, placer, draining_hosts(state, alive), NOW)
    targets = set(moves.values()) | {m.target for m in evac.moves}
    assert targets <= set(ok)  # active, live hosts only
    for r in plan.restarts:
        assert state.vms[r.vm].ha.enabled and state.vms[r.vm].placement in dead_set
    cpu, mem = usage(state, moves)
    for m in evac.moves:  # a moving VM is booked on both ends until it arrives
        cpu[m.target] = cpu.get(m.target, 0) + state.vms[m.vm].vcpus
        mem[m.target] = mem.get(m.target, 0) + state.vms[m.vm].memory_mib
    before_cpu, before_mem = usage(state, {})
    for h in targets:
        node = state.nodes[h]
        assert cpu[h] <= max(node.cpus * policy.cpu_overcommit, before_cpu.get(h, 0))
        assert mem[h] <= max(node.memory_mib, before_mem.get(h, 0))
