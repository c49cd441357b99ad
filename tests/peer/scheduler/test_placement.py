"""The placement rules, one by one, on hand-written cluster states."""

from peer.scheduler.placement import eligible_hosts, schedule
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import NOW, cluster, host, vm

TTL = 6.0


def place(state, policy=None):
    return schedule(state, policy or SchedulerPolicy(), NOW, TTL)


def test_memory_fit_counts_vms_already_placed():
    state = cluster(
        [host("h1", mem=4096), host("h2", mem=4096)],
        [vm("old", mem=3072, placement="h1"), vm("new", mem=2048)],
    )
    assert place(state).placed == {"new": "h2"}


def test_unplaceable_vm_says_why_with_figures():
    state = cluster(
        [host("h1", mem=8192), host("h2", mem=16384)],
        [vm("a", mem=4096, placement="h2"), vm("big", mem=65536)],
    )
    res = place(state)
    assert res.placed == {}
    assert res.errors["big"] == (
        "cannot place big: no host has 64 GiB free memory: largest free is 12 GiB on h2"
    )


def test_cpu_overcommit_ratio_is_respected_and_configurable():
    state = cluster([host("h1", cpus=2)], [vm("a", vcpus=4, placement="h1"), vm("b", vcpus=4)])
    assert place(state, SchedulerPolicy(cpu_overcommit=4.0)).placed == {"b": "h1"}
    res = place(state, SchedulerPolicy(cpu_overcommit=2.0))
    assert "no host has 4 vCPUs free (CPU overcommit 2x): most free is 0 on h1" in res.errors["b"]


def test_memory_overcommit_ratio_is_configurable():
    state = cluster([host("h1", mem=1024)], [vm("a", mem=1536)])
    assert place(state).placed == {}
    assert place(state, SchedulerPolicy(memory_overcommit=1.5)).placed == {"a": "h1"}


def test_spread_picks_the_emptiest_host_and_pack_the_fullest():
    hosts = [host("h1"), host("h2"), host("h3")]
    vms = [vm("x", mem=8192, placement="h2"), vm("y", mem=4096, placement="h3"), vm("n")]
    assert place(cluster(hosts, vms)).placed == {"n": "h1"}
    assert place(cluster(hosts, vms), SchedulerPolicy(strategy="pack")).placed == {"n": "h2"}


def test_spread_distributes_many_vms_evenly():
    state = cluster([host(f"h{i}") for i in range(4)], [vm(f"v{i:02d}") for i in range(12)])
    placed = place(state).placed
    assert sorted(list(placed.values()).count(f"h{i}") for i in range(4)) == [3, 3, 3, 3]


def test_maintenance_dead_and_fenced_hosts_get_nothing():
    hosts = [host("h1", state="maintenance"), host("h2"), host("h3"), host("h4"), host("h5")]
    state = cluster(
        hosts,
        [vm("a")],
        leases={"h1": NOW, "h2": NOW - 10, "h3": NOW, "h4": NOW},  # h5: never renewed
    )
    ok, why = eligible_hosts(state, NOW, TTL)
    assert ok == ["h3", "h4"]
    assert why == {
        "h1": "h1 is in maintenance",
        "h2": "h2 has no live lease",
        "h5": "h5 has never renewed its lease",
    }


def test_no_available_host_lists_why_each_is_out():
    state = cluster([host("h1", state="maintenance")], [vm("a")])
    assert place(state).errors["a"] == (
        "cannot place a: no host is available for VMs (h1 is in maintenance)"
    )


def test_node_selector_needs_matching_labels():
    hosts = [host("h1", labels={"disk": "hdd"}), host("h2", labels={"disk": "ssd"})]
    vms = [vm("fast", selector={"disk": "ssd"}), vm("gpu", selector={"gpu": "yes"})]
    res = place(cluster(hosts, vms))
    assert res.placed == {"fast": "h2"}
    assert res.errors["gpu"] == "cannot place gpu: no available host has the labels gpu=yes"


def test_local_pool_only_on_its_node_shared_pool_everywhere():
    hosts = [host("h1", pools=["local-h1"]), host("h2"), host("h3")]
    pools = [
        ("shared", {"shared": True}),
        ("local-h1", {"shared": False, "nodes": ["h1"]}),
        ("nfs", {"shared": False, "nodes": ["h3"]}),
    ]
    vms = [
        vm("l", pool="local-h1"),
        vm("n", pool="nfs"),
        vm("s", mem=8192, pool="shared"),
        vm("s2", mem=8192, pool="shared"),
        vm("s3", mem=8192, pool="shared"),
    ]
    res = place(cluster(hosts, vms, pools=pools))
    assert res.placed["l"] == "h1" and res.placed["n"] == "h3"
    assert sorted(res.placed[v] for v in ("s", "s2", "s3")) == ["h1", "h2", "h3"]


def test_storage_pool_seen_only_on_unavailable_host_is_explained():
    hosts = [host("h1", state="maintenance"), host("h2")]
    pools = [("local-h1", {"shared": False, "nodes": ["h1"]})]
    res = place(cluster(hosts, [vm("l", pool="local-h1")], pools=pools))
    assert res.errors["l"] == (
        "cannot place l: storage pool 'local-h1' is visible only on h1"
        " (not considered: h1 is in maintenance)"
    )


def test_anti_affinity_keeps_group_members_apart():
    groups = [("web", {"kind": "anti_affinity", "vms": ["w1", "w2", "w3"]})]
    state = cluster(
        [host("h1"), host("h2")],
        [vm("w1", placement="h1"), vm("w2"), vm("w3")],
        groups=groups,
    )
    res = place(state)
    assert res.placed == {"w2": "h2"}
    assert res.errors["w3"] == (
        "cannot place w3: anti-affinity group 'web' already has a VM on every suitable host"
        " (h1, h2)"
    )


def test_affinity_keeps_group_members_together_even_against_spread():
    groups = [("pair", {"kind": "affinity", "vms": ["a", "b"]})]
    state = cluster(
        [host("h1"), host("h2")],
        [vm("a", mem=8192, placement="h1"), vm("b")],
        groups=groups,
    )
    assert place(state).placed == {"b": "h1"}


def test_affinity_group_placed_together_from_scratch():
    groups = [("pair", {"kind": "affinity", "vms": ["a", "b", "c"]})]
    state = cluster([host(f"h{i}") for i in range(3)], [vm("a"), vm("b"), vm("c")], groups=groups)
    assert len(set(place(state).placed.values())) == 1


def test_higher_priority_and_bigger_vms_placed_first():
    state = cluster(
        [host("h1", mem=4096)],
        [vm("low", mem=2048), vm("high", mem=4096, priority=10)],
    )
    res = place(state)
    assert res.placed == {"high": "h1"} and "low" in res.errors


def test_placed_vms_and_deleted_vms_are_left_alone():
    state = cluster([host("h1")], [vm("p", placement="h1"), vm("d", desired="deleted")])
    res = place(state)
    assert res.placed == {} and res.errors == {}


def test_same_state_same_decisions():
    hosts = [host(f"h{i}", cpus=4, mem=8192) for i in range(5)]
    vms = [vm(f"v{i}", vcpus=1 + i % 3, mem=512 * (1 + i % 5)) for i in range(40)]
    first = place(cluster(hosts, vms))
    again = place(cluster(list(reversed(hosts)), list(reversed(vms))))
    assert first.placed == again.placed and first.errors == again.errors


def test_cluster_settings_override_the_defaults_field_by_field():
    base = SchedulerPolicy()
    merged = base.merged({"strategy": "pack", "cpu_overcommit": 2, "drs_mode": "bogus", "x": 1})
    assert merged.strategy == "pack" and merged.cpu_overcommit == 2.0
    assert merged.drs_mode == base.drs_mode


def test_affinity_conflicting_with_storage_names_the_groups_host():
    groups = [("pair", {"kind": "affinity", "vms": ["a", "b"]})]
    pools = [("local-h2", {"shared": False, "nodes": ["h2"]}), ("shared", {"shared": True})]
    state = cluster(
        [host("h1"), host("h2")],
        [vm("a", placement="h1"), vm("b", pool="local-h2")],
        groups=groups,
        pools=pools,
    )
    assert place(state).errors["b"] == (
        "cannot place b: affinity group 'pair' keeps its VMs on h1, which this VM cannot use"
        " (labels or storage)"
    )


def test_a_host_reporting_a_blocking_condition_gets_nothing():
    bad_hv = host("h1")
    bad_hv[1]["conditions"] = {"cannot_run_vms": "no hypervisor at qemu:///system: gone"}
    full = host("h2")
    full[1]["conditions"] = {"disk_full": "the data disk is full: 0 MiB free of 96 MiB"}
    odd = host("h3")
    odd[1]["conditions"] = {"clock_skew": "a condition that does not keep VMs away"}
    state = cluster([bad_hv, full, odd], [vm("a")])
    ok, why = eligible_hosts(state, NOW, TTL)
    assert ok == ["h3"]
    assert why == {"h1": "h1 reports cannot_run_vms", "h2": "h2 reports disk_full"}
    assert place(state).placed == {"a": "h3"}


def test_a_vm_with_an_ovn_nic_goes_only_to_a_host_running_networking():
    h1, h2 = host("h1", mem=65536), host("h2")
    h2[1]["networking"] = True
    nic = {"network": "blue", "mac": "52:54:00:00:00:01", "ip": "10.0.0.2", "port": "qxt0"}
    state = cluster([h1, h2], [vm("net", nics=[nic]), vm("plain")])
    assert place(state).placed == {"net": "h2", "plain": "h1"}
    state = cluster([host("h1")], [vm("net", nics=[nic])])
    res = place(state)
    assert res.placed == {} and "runs VM networking" in res.errors["net"]
