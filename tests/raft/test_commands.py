"""Unit tests of the pure apply functions."""

from hypothesis import given, settings
from hypothesis import strategies as st

from raft.commands import StateMachine


def cmd(op_id, *ops, ts=1.0):
    return {"id": op_id, "ts": ts, "ops": list(ops)}


def put(key, value, expect=None, table="vms"):
    return {"op": "put", "table": table, "key": key, "value": value, "expect": expect}


def test_put_creates_version_one_and_bumps_revision():
    sm = StateMachine()
    res, changes = sm.apply(cmd("a", put("vm1", {"name": "web"}, "absent")))
    assert res == {"ok": True, "revision": 1, "versions": [1]}
    assert sm.get("vms", "vm1").value == {"name": "web"}
    assert [c.key for c in changes] == ["vm1"]


def test_compare_and_set_conflict_applies_nothing():
    sm = StateMachine()
    sm.apply(cmd("a", put("vm1", {"n": 1})))
    res, changes = sm.apply(cmd("b", put("vm1", {"n": 2}, 7), put("vm2", {"n": 3})))
    assert not res["ok"] and res["conflict"]["actual"] == 1
    assert changes == [] and sm.get("vms", "vm2") is None and sm.revision == 1


def test_retried_op_id_is_applied_at_most_once():
    sm = StateMachine()
    first, _ = sm.apply(cmd("same", put("k", {"n": 1})))
    again, changes = sm.apply(cmd("same", put("k", {"n": 1})))
    assert again["duplicate"] and again["revision"] == first["revision"]
    assert changes == [] and sm.get("vms", "k").version == 1


def test_malformed_command_is_refused_not_raised():
    sm = StateMachine()
    res, _ = sm.apply({"id": "x", "ts": 0, "ops": [{"op": "put", "table": "nope", "key": "k"}]})
    assert not res["ok"] and "unknown table" in res["invalid"]
    res, _ = sm.apply(cmd("y", put("k", {"bad": object()})))
    assert not res["ok"] and "plain data" in res["invalid"]


def test_trim_drops_oldest_records():
    sm = StateMachine()
    for i in range(5):
        sm.apply(cmd(f"e{i}", put(f"{i:04d}", {"i": i}, table="events")))
    sm.apply(cmd("t", {"op": "trim", "table": "events", "keep": 2}))
    assert [r.key for r in sm.scan("events")] == ["0003", "0004"]


keys = st.sampled_from(["a", "b", "c"])
ops = st.one_of(
    st.builds(
        lambda k, n, e: put(k, {"n": n}, e),
        keys,
        st.integers(0, 9),
        st.one_of(st.none(), st.just("absent"), st.integers(1, 4)),
    ),
    st.builds(
        lambda k, e: {"op": "delete", "table": "vms", "key": k, "expect": e},
        keys,
        st.one_of(st.none(), st.just("present")),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(ops, min_size=0, max_size=3), max_size=30), st.randoms())
def test_replicas_applying_the_same_log_agree(log, rnd):
    commands = [cmd(f"op{i}", *o, ts=float(i)) for i, o in enumerate(log)]
    # A replica that sees retried duplicates in its log still ends in the same state.
    dupes = list(commands)
    for c in commands:
        if rnd.random() < 0.3:
            dupes.insert(rnd.randrange(dupes.index(c), len(dupes)) + 1, c)
    a, b = StateMachine(), StateMachine()
    for c in commands:
        a.apply(c)
    for c in dupes:
        b.apply(c)
    assert a.state_hash() == b.state_hash()
    c2 = StateMachine()
    c2.restore(a.snapshot())
    assert c2.state_hash() == a.state_hash()


def test_empty_command_is_a_barrier_that_changes_nothing():
    sm = StateMachine()
    sm.apply(cmd("a", put("k", {"n": 1})))
    h = sm.state_hash()
    res, changes = sm.apply(cmd("barrier", ts=5.0))
    assert res == {"ok": True, "revision": 1, "versions": []} and changes == []
    assert sm.state_hash() == h and sm.op_result("barrier") is None


def test_a_retried_conflict_returns_the_original_conflict():
    sm = StateMachine()
    first, _ = sm.apply(cmd("c", put("k", {"n": 1}, "present")))
    sm.apply(cmd("x", put("k", {"n": 2})))  # now the precondition would hold
    again, changes = sm.apply(cmd("c", put("k", {"n": 1}, "present")))
    assert not again["ok"] and again["conflict"] == first["conflict"] and changes == []
    assert sm.get("vms", "k").value == {"n": 2}


def test_check_and_delete_preconditions_in_one_transaction():
    sm = StateMachine()
    sm.apply(cmd("a", put("vm1", {"n": 1}), put("vm2", {"n": 2})))
    check = {"op": "check", "table": "vms", "key": "vm1", "expect": 1}
    delete = {"op": "delete", "table": "vms", "key": "vm2", "expect": "present"}
    res, changes = sm.apply(cmd("b", check, delete))
    assert res["ok"] and res["versions"] == [1, None]
    assert [(c.key, c.value) for c in changes] == [("vm2", None)]
    res, _ = sm.apply(cmd("c", check | {"expect": 2}, put("vm3", {})))
    assert not res["ok"] and sm.get("vms", "vm3") is None
    res, _ = sm.apply(cmd("d", {"op": "delete", "table": "vms", "key": "vm2", "expect": "present"}))
    assert not res["ok"] and res["conflict"]["actual"] is None


def test_versions_count_writes_and_revisions_order_commands():
    sm = StateMachine()
    for i in range(3):
        sm.apply(cmd(f"w{i}", put("k", {"i": i})))
    rec = sm.get("vms", "k")
    assert (rec.version, rec.revision) == (3, 3)
    sm.apply(cmd("del", {"op": "delete", "table": "vms", "key": "k", "expect": 3}))
    sm.apply(cmd("again", put("k", {"i": 9}, "absent")))
    assert sm.get("vms", "k").version == 1 and sm.revision == 5


def test_invalid_commands_are_not_remembered():
    sm = StateMachine()
    bad = {"id": "bad", "ts": 0, "ops": [{"op": "nope", "table": "vms", "key": "k"}]}
    res, _ = sm.apply(bad)
    assert "invalid" in res and sm.op_result("bad") is None and sm.revision == 0
    res, _ = sm.apply("not a command")
    assert "invalid" in res
