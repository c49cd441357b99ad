"""The voter rule: 3 voters below 5 hosts, 5 from then on; stale voters replaced."""

from peer.membership import plan, target_voters


def nodes(n):
    return {f"n{i}": {"raft_addr": f"10.0.0.{i}:8444", "state": "active"} for i in range(1, n + 1)}


def addr(i):
    return f"10.0.0.{i}:8444"


def test_target_voters():
    assert [target_voters(h) for h in (1, 2, 3, 4, 5, 7, 32)] == [1, 2, 3, 3, 5, 5, 5]


def test_promotes_a_healthy_replica_while_short_of_voters():
    ages = {f"n{i}": 0.5 for i in range(1, 4)}
    ch = plan(nodes(3), {addr(1)}, ages, healthy_within=6, voter_gone_after=30)
    assert ch is not None and ch.kind == "add" and ch.node_id == "n2"


def test_an_unhealthy_replica_is_not_promoted():
    ages = {"n1": 0.5, "n2": 60.0}
    assert plan(nodes(2), {addr(1)}, ages, healthy_within=6, voter_gone_after=30) is None


def test_four_hosts_keep_three_voters_five_get_five():
    ages = {f"n{i}": 0.1 for i in range(1, 6)}
    three = {addr(1), addr(2), addr(3)}
    assert plan(nodes(4), three, ages, 6, 30) is None
    ch = plan(nodes(5), three, ages, 6, 30)
    assert ch is not None and ch.kind == "add" and ch.node_id == "n4"


def test_a_voter_gone_too_long_is_replaced_by_a_healthy_replica():
    ages = {f"n{i}": 0.1 for i in range(1, 8)}
    ages["n2"] = 45.0
    voters = {addr(i) for i in range(1, 6)}
    ch = plan(nodes(7), voters, ages, 6, 30)
    assert ch is not None and ch.kind == "remove" and ch.node_id == "n2"
    # Once removed, a healthy replica takes its place.
    ch = plan(nodes(7), voters - {addr(2)}, ages, 6, 30)
    assert ch is not None and ch.kind == "add" and ch.node_id == "n6"


def test_a_stale_voter_with_no_replacement_stays():
    ages = {"n1": 0.1, "n2": 0.1, "n3": 99.0}
    voters = {addr(1), addr(2), addr(3)}
    assert plan(nodes(3), voters, ages, 6, 30) is None


def test_removed_hosts_do_not_count():
    n = nodes(5)
    n["n5"]["state"] = "removed"
    n["n4"]["state"] = "removed"
    ages = {f"n{i}": 0.1 for i in range(1, 6)}
    assert plan(n, {addr(1), addr(2), addr(3)}, ages, 6, 30) is None
