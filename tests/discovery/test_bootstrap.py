"""The bootstrap rule: one bootstrapper, everyone else joins; split brains are loud."""

from __future__ import annotations

from discovery.bootstrap import decide, split_brains, yield_to
from discovery.model import Announcement, SeenHost

SETTLE = 2.0
TIMEOUT = 10.0


def me(node_id: str, cluster: str = "prod", role: str = "joining", cid: str = "") -> Announcement:
    return Announcement(
        node_id=node_id, cluster_name=cluster, cluster_id=cid, api_port=8443,
        raft_port=8444, version="1", role=role,  # type: ignore[arg-type]
    )  # fmt: skip


def seen(node_id: str, first: float = 0.0, **kw: str) -> SeenHost:
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
    d = decide(me("b"), [seen("a", first=1.9)], now=2.5, first_seen_at=0.0, settle_window=SETTLE)
    assert d.action == "wait" and d.target is not None and d.target.node_id == "a"


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
    # The instance with a visible leader wins over a bigger leaderless one.
    d = decide(me("z"), hosts, 3.0, 0.0, SETTLE)
    assert d.target is not None and d.target.node_id == "a"
    assert (
        split_brains(me("a", role="leader", cid="c1"), [seen("b", role="leader", cid="c1")]) == []
    )
    assert len(split_brains(me("q", role="leader", cid="c9"), hosts[:1])) == 1


def test_lone_cluster_yields_to_the_bigger_instance_of_its_name() -> None:
    lone = me("a", role="leader", cid="c1")
    formed = [seen("b", role="leader", cid="c2"), seen("c", role="member", cid="c2")]
    target = yield_to(lone, formed, alone=True)
    assert target is not None and target.node_id == "b"
    # Not alone (it has members or VMs): it keeps its cluster; the conflict stays loud.
    assert yield_to(lone, formed, alone=False) is None
    # The bigger side never yields to the lone host.
    assert yield_to(me("b", role="leader", cid="c2"), [seen("a", role="leader", cid="c1"),
                    seen("c", role="member", cid="c2")], alone=True) is None  # fmt: skip


def test_two_lone_hosts_exactly_one_yields() -> None:
    x, y = me("x", role="leader", cid="c1"), me("y", role="leader", cid="c2")
    x_seen, y_seen = seen("x", role="leader", cid="c1"), seen("y", role="leader", cid="c2")
    results = [yield_to(x, [y_seen], alone=True), yield_to(y, [x_seen], alone=True)]
    assert results[0] is None and results[1] is not None and results[1].node_id == "x"
    assert yield_to(x, [seen("z", cluster="other", role="leader", cid="c0")], alone=True) is None
