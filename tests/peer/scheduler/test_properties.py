"""Properties of placement on generated clusters: never overcommit, never use a
host in maintenance, keep anti-affinity, same state -> same decisions."""

from hypothesis import given, settings
from hypothesis import strategies as st

from peer.scheduler.placement import Placer, eligible_hosts, schedule
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import NOW, cluster, host, vm

TTL = 6.0


@st.composite
def clusters(draw):
    n_hosts = draw(st.integers(1, 6))
    hosts = [
        host(
            f"h{i}",
            cpus=draw(st.integers(1, 16)),
            mem=draw(st.sampled_from([1024, 2048, 8192, 16384])),
            state=draw(st.sampled_from(["active", "active", "active", "maintenance"])),
            labels={"zone": draw(st.sampled_from(["a", "b"]))},
        )
        for i in range(n_hosts)
    ]
    vms = []
    for i in range(draw(st.integers(0, 30))):
        placement = draw(st.sampled_from([None, None, None, *[h for h, _ in hosts]]))
        sel = draw(st.sampled_from([None, None, {"zone": "a"}]))
        vms.append(
            vm(
                f"v{i:02d}",
                vcpus=draw(st.integers(1, 8)),
                mem=draw(st.sampled_from([256, 512, 1024, 4096])),
                placement=placement,
                selector=sel,
                priority=draw(st.integers(0, 2)),
            )
        )
    members = draw(st.lists(st.sampled_from([v for v, _ in vms] or ["none"]), unique=True))
    groups = [("apart", {"kind": "anti_affinity", "vms": members})]
    policy = SchedulerPolicy(
        cpu_overcommit=draw(st.sampled_from([1.0, 2.0, 4.0])),
        strategy=draw(st.sampled_from(["spread", "pack"])),
    )
    return hosts, vms, groups, policy


def usage_after(state, placed):
    cpu, mem = {}, {}
    for v in state.vms.values():
        where = placed.get(v.id, v.placement)
        if where is not None:
            cpu[where] = cpu.get(where, 0) + v.vcpus
            mem[where] = mem.get(where, 0) + v.memory_mib
    return cpu, mem


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_new_placements_never_overcommit_a_host(c):
    hosts, vms, groups, policy = c
    state = cluster(hosts, vms, groups=groups)
    res = schedule(state, policy, NOW, TTL)
    cpu, mem = usage_after(state, res.placed)
    for h in set(res.placed.values()):
        node = state.nodes[h]
        # Even a host already over its ratio (placed by hand) never receives more.
        assert cpu[h] <= node.cpus * policy.cpu_overcommit
        assert mem[h] <= node.memory_mib * policy.memory_overcommit


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_never_places_on_a_host_in_maintenance_or_against_selector(c):
    hosts, vms, groups, policy = c
    state = cluster(hosts, vms, groups=groups)
    for vid, h in schedule(state, policy, NOW, TTL).placed.items():
        assert state.nodes[h].state == "active"
        sel = state.vms[vid].node_selector
        assert all(state.nodes[h].labels.get(k) == v for k, v in sel.items())


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_anti_affinity_members_never_share_a_new_host(c):
    hosts, vms, groups, policy = c
    state = cluster(hosts, vms, groups=groups)
    placed = schedule(state, policy, NOW, TTL).placed
    members = state.groups["apart"].vms
    for vid, h in placed.items():
        if vid in members:
            others = {
                placed.get(o, state.vms[o].placement)
                for o in members
                if o != vid and o in state.vms
            }
            assert h not in others


@settings(max_examples=100, deadline=None)
@given(clusters())
def test_same_state_gives_same_decisions(c):
    hosts, vms, groups, policy = c
    a = schedule(cluster(hosts, vms, groups=groups), policy, NOW, TTL)
    b = schedule(cluster(hosts[::-1], vms[::-1], groups=groups), policy, NOW, TTL)
    assert a.placed == b.placed and a.errors == b.errors


@settings(max_examples=100, deadline=None)
@given(clusters())
def test_every_unplaced_vm_has_a_reason_and_every_fit_is_taken(c):
    hosts, vms, groups, policy = c
    state = cluster(hosts, vms, groups=groups)
    res = schedule(state, policy, NOW, TTL)
    todo = {v for v, val in vms if val["placement"] is None}
    assert set(res.placed) | set(res.errors) == todo
    assert all(msg.startswith("cannot place ") for msg in res.errors.values())
    # Nothing that errored would fit on the final state (the reason is true).
    ok, why = eligible_hosts(state, NOW, TTL)
    final = Placer(state, policy, ok, why)
    for vid, h in res.placed.items():
        final.assign(state.vms[vid], h)
    for vid in res.errors:
        assert final.choose(state.vms[vid]) is None
