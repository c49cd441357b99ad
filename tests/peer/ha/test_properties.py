"""Properties of the HA rules over generated timelines."""

from hypothesis import given, settings
from hypothesis import strategies as st

from peer.ha.fencing import DeadNode, LeaseObserver, dead_nodes, default_margin
from peer.ha.recovery import plan_recovery
from peer.scheduler import records
from peer.scheduler.model import Lease
from peer.scheduler.placement import Placer
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import cluster, host, vm


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
