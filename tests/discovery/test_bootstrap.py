"""The bootstrap rule: one bootstrapper, everyone else joins; split brains are loud."""

from __future__ import annotations

from typing import Any

from discovery.bootstrap import decide, merge, new_cluster_id, split_brains
from discovery.model import Announcement, SeenHost

SETTLE = 2.0
TIMEOUT = 10.0


def me(
    node_id: str, cluster: str = "prod", role: str = "joining", cid: str = "", young: bool = False
) -> Announcement:
    return Announcement(
        node_id=node_id, cluster_name=cluster, cluster_id=cid, api_port=8443,
        raft_port=8444, version="1", role=role, young=young,  # type: ignore[arg-type]
    )  # fmt: skip


def seen(node_id: str, first: float = 0.0, **kw: Any) -> SeenHost:
    return SeenHost(me(node_id, **kw), f"10.0.0.{len(node_id)}", first, first)


def test_waits_for_the_settle_window() -> None:
    d = decide(me("a"), [seen("b")], now=1.0, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "wait" and "settling" in d.reason


def test_lowest_id_bootstraps_and_others_wait_for_it() -> None:
    hosts = ["c", "a", "b"]
    decisions = {
        h: decide(me(h), [seen(x) for x in hosts], now=3.0, first_seen_at=0.0, settle_window=SETTLE)
        for h in hosts
    }
    assert decisions["a"].action == "bootstrap"
    for h in ("b", "c"):
        assert decisions[h].action == "wait"
        assert decisions[h].target is not None and decisions[h].target.node_id == "a"


def test_alone_after_settle_bootstraps() -> None:
    assert decide(me("z"), [], 5.0, 0.0, SETTLE).action == "bootstrap"


def test_late_arrival_joins_the_formed_cluster_even_with_lower_id() -> None:
    others = [seen("b", role="leader", cid="c1"), seen("c", role="member", cid="c1")]
    d = decide(me("a"), others, now=0.1, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "join" and d.target is not None and d.target.node_id == "b"


def test_join_prefers_the_leader_else_lowest_member() -> None:
    d = decide(me("z"), [seen("c", role="member", cid="c1"), seen("b", role="member", cid="c1")],
               3.0, 0.0, SETTLE)  # fmt: skip
    assert d.action == "join" and d.target is not None and d.target.node_id == "b"


def test_late_lower_arrival_during_settle_takes_over() -> None:
    # b has waited its window, but a (lower) arrived within it: b defers to a.
    d = decide(me("b"), [seen("a", first=1.9)], now=3.5, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "wait" and d.target is not None and d.target.node_id == "a"


def test_settles_until_no_host_appeared_for_half_a_window() -> None:
    # Hosts powered on together keep appearing: nobody bootstraps while they do.
    d = decide(me("a"), [seen("b", first=2.5)], now=3.0, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "wait" and "still appearing" in d.reason
    d = decide(me("a"), [seen("b", first=2.5)], now=3.6, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "bootstrap"


def test_bootstrapper_gone_from_mdns_next_lowest_takes_over() -> None:
    d = decide(me("b"), [seen("c")], now=3.0, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "bootstrap"


def test_stuck_bootstrapper_is_skipped_after_timeout_one_at_a_time() -> None:
    hosts = [seen(x) for x in "abc"]
    t = SETTLE + TIMEOUT + 0.5  # a is overdue, b's own deadline is not reached
    assert decide(me("b"), hosts, t, 0.0, SETTLE, TIMEOUT).action == "bootstrap"
    d = decide(me("c"), hosts, t, 0.0, SETTLE, TIMEOUT)
    assert d.action == "wait" and d.target is not None and d.target.node_id == "b"
    # If b is stuck too, c goes after the next stagger.
    assert (
        decide(me("c"), hosts, SETTLE + 2 * TIMEOUT + 0.5, 0.0, SETTLE, TIMEOUT).action
        == "bootstrap"
    )


def test_two_cluster_names_stay_separate() -> None:
    hosts = [seen("a", cluster="blue"), seen("b", cluster="green", role="leader", cid="g1")]
    d = decide(me("c", cluster="red"), hosts, 3.0, 0.0, SETTLE)
    assert d.action == "bootstrap"
    d = decide(me("d", cluster="blue"), hosts, 3.0, 0.0, SETTLE)
    assert d.action == "wait" and d.target is not None and d.target.node_id == "a"


def test_factory_and_members_do_nothing() -> None:
    hosts = [seen("a", role="leader", cid="c1")]
    assert decide(me("f", cluster="", role="factory"), hosts, 9.0, 0.0, SETTLE).action == "none"
    assert decide(me("m", role="member", cid="c1"), hosts, 9.0, 0.0, SETTLE).action == "none"


def test_factory_hosts_are_never_bootstrap_candidates() -> None:
    d = decide(me("b"), [seen("a", cluster="", role="factory")], 3.0, 0.0, SETTLE)
    assert d.action == "bootstrap"


def test_split_brain_is_reported_and_join_is_deterministic() -> None:
    hosts = [
        seen("a", role="leader", cid="c1"),
        seen("b", role="member", cid="c2"),
        seen("c", role="member", cid="c2"),
        seen("x", cluster="other", role="leader", cid="o1"),
    ]
    [sb] = split_brains(None, hosts)
    assert sb.cluster_name == "prod" and sb.instances == {"c1": ("a",), "c2": ("b", "c")}
    assert "SPLIT BRAIN" in sb.describe()
    # A newcomer joins the instance the others give way to: settled, more hosts.
    d = decide(me("z"), hosts, 3.0, 0.0, SETTLE)
    assert d.target is not None and d.target.node_id == "b"
    assert (
        split_brains(me("a", role="leader", cid="c1"), [seen("b", role="leader", cid="c1")]) == []
    )
    assert len(split_brains(me("q", role="leader", cid="c9"), hosts[:1])) == 1


def test_newcomer_joins_the_older_of_two_young_instances() -> None:
    hosts = [
        seen("a", role="leader", cid="c2", young=True),
        seen("b", role="member", cid="c2", young=True),
        seen("c", role="leader", cid="c1", young=True),
    ]
    d = decide(me("z"), hosts, 0.1, 0.0, SETTLE)
    assert d.action == "join" and d.target is not None and d.target.node_id == "c"


def test_young_instance_dissolves_into_the_older_one_whatever_its_size() -> None:
    # h6's race in the 16-host lab: two young instances; the younger one moves.
    older = [seen("h1", role="leader", cid="c1", young=True)]
    younger = [seen(x, role="member", cid="c2", young=True) for x in ("h2", "h3", "h4")]
    m = merge(me("h6", role="leader", cid="c2", young=True), older + younger, running_vms=0)
    assert m.action == "move" and m.into == "c1" and m.target is not None
    assert m.target.node_id == "h1"
    stay = merge(me("h1", role="leader", cid="c1", young=True), younger, running_vms=0)
    assert stay.action == "stay"


def test_lone_young_host_gives_way_to_a_settled_cluster_even_if_older() -> None:
    # The restart case: h1 bootstrapped alone, was down while h2 and h3 formed a
    # cluster that is now in use, and comes back as the leader of its own.
    settled = [seen("h2", role="leader", cid="c9"), seen("h3", role="member", cid="c9")]
    m = merge(me("h1", role="leader", cid="c0", young=True), settled, running_vms=0)
    assert m.action == "move" and m.into == "c9" and m.target is not None
    assert m.target.node_id == "h2"
    # ...and the settled side never moves for it.
    lone = [seen("h1", role="leader", cid="c0", young=True), seen("h3", role="member", cid="c9")]
    assert merge(me("h2", role="leader", cid="c9"), lone, running_vms=3).action == "stay"


def test_settled_smaller_side_rejoins_only_without_running_vms() -> None:
    big = [seen(x, role="member", cid="c2") for x in ("d", "e", "f")]
    small = me("a", role="leader", cid="c1")
    m = merge(small, [*big, seen("b", role="member", cid="c1")], running_vms=0)
    assert m.action == "move" and m.into == "c2"
    r = merge(small, [*big, seen("b", role="member", cid="c1")], running_vms=2)
    assert r.action == "report" and r.into == "c2" and "admin" in r.reason
    # Same size: the older stays, the younger gives way.
    assert merge(me("d", role="member", cid="c2"), [seen("a", role="leader", cid="c1")],
                 running_vms=0).action == "move"  # fmt: skip
    assert merge(small, [seen("d", role="leader", cid="c2")], running_vms=0).action == "stay"


def test_merge_ignores_other_names_and_unclustered_hosts() -> None:
    mine = me("a", role="leader", cid="c5", young=True)
    others = [
        seen("b", cluster="other", role="leader", cid="c1"),
        seen("c", role="joining"),
        seen("d", cluster="", role="factory"),
    ]
    assert merge(mine, others, running_vms=0).action == "stay"
    assert merge(me("z"), others, running_vms=0).action == "stay"


def test_cluster_ids_sort_by_age() -> None:
    a, b = new_cluster_id(1_700_000_000.0, "ffff"), new_cluster_id(1_700_000_000.001, "0000")
    assert a < b and len(a) == len(b)
