"""The checkers against hand-made histories: each bug kind is caught; correct ones pass."""

from __future__ import annotations

import itertools
from typing import Any

from chaos.checkers import FAIL, PASS, UNKNOWN
from chaos.checkers.availability import check_availability
from chaos.checkers.convergence import check_convergence
from chaos.checkers.registers import check_linearizable, check_reads_written
from chaos.checkers.sets import check_sets
from chaos.checkers.vms import Outage, check_double_run, check_ha
from chaos.history import Op, Sample

_ids = itertools.count(1)


def op(
    f: str,
    value: Any,
    start: float,
    end: float | None,
    type_: str = "ok",
    key: str = "r0",
    host: str = "h1",
) -> Op:
    return Op(next(_ids), f"c-{host}", host, f, key, value, start, end, type_)


def test_sequential_register_history_is_linearizable() -> None:
    h = [op("write", 1, 0, 1), op("read", 1, 2, 3), op("cas", [1, 2], 4, 5), op("read", 2, 6, 7)]
    assert check_linearizable(h).status == PASS


def test_concurrent_ops_may_take_effect_in_either_order() -> None:
    # The read overlaps the write: old or new value are both fine.
    h = [op("write", 1, 0, 1), op("write", 2, 2, 6), op("read", 1, 3, 4), op("read", 2, 5, 7)]
    assert check_linearizable(h).status == PASS


def test_stale_read_is_caught() -> None:
    # 2 was acknowledged before the read began, yet the read returned 1.
    h = [op("write", 1, 0, 1), op("write", 2, 2, 3), op("read", 1, 4, 5, host="h3")]
    v = check_linearizable(h)
    assert v.status == FAIL and "r0" in v.summary


def test_lost_write_is_caught() -> None:
    # An acknowledged CAS 1->2, then every later read sees 1.
    h = [op("write", 1, 0, 1), op("cas", [1, 2], 2, 3), op("read", 1, 4, 5), op("read", 1, 6, 7)]
    assert check_linearizable(h).status == FAIL


def test_two_cas_from_one_value_cannot_both_win() -> None:
    h = [op("write", 1, 0, 1), op("cas", [1, 2], 2, 4), op("cas", [1, 3], 2.5, 4.5)]
    assert check_linearizable(h).status == FAIL


def test_unknown_write_may_or_may_not_have_happened() -> None:
    took = [op("write", 1, 0, 1), op("cas", [1, 2], 2, None, "unknown"), op("read", 2, 5, 6)]
    did_not = [op("write", 1, 0, 1), op("cas", [1, 2], 2, None, "unknown"), op("read", 1, 5, 6)]
    assert check_linearizable(took).status == PASS
    assert check_linearizable(did_not).status == PASS


def test_failed_writes_have_no_effect() -> None:
    h = [op("write", 1, 0, 1), op("cas", [1, 2], 2, 3, "fail"), op("read", 2, 5, 6)]
    assert check_linearizable(h).status == FAIL
    assert check_reads_written(h).status == FAIL


def test_read_of_a_value_nobody_wrote_is_caught() -> None:
    h = [op("write", 1, 0, 1), op("read", 7, 2, 3)]
    v = check_reads_written(h)
    assert v.status == FAIL and v.evidence["reads"][0]["why"] == "never written"
    assert check_reads_written([op("write", 1, 0, 1), op("read", 1, 2, 3)]).status == PASS


def test_search_past_its_bound_answers_unknown_not_a_hang() -> None:
    # Many concurrent writes of distinct values and no reads ordering them: a wide search.
    h = [op("write", i, 0, 100) for i in range(40)] + [op("read", 999, 101, 102)]
    assert check_linearizable(h, max_steps=1000).status == UNKNOWN


def test_long_correct_history_finishes() -> None:
    h, t = [], 0.0
    for i in range(2000):
        h.append(op("cas", [i, i + 1], t, t + 1.5))  # overlaps the next op
        h.append(op("read", i + 1, t + 1.6, t + 1.7, host="h2"))
        t += 1.55
    assert check_linearizable(h, initial=0).status == PASS


def test_sets_catch_a_lost_create_an_undone_delete_and_a_phantom() -> None:
    h = [
        op("create", None, 0, 1, key="s1"),
        op("create", None, 0, 1, key="s2"),
        op("delete", None, 2, 3, key="s2"),
        op("create", None, 0, 1, key="s3"),
    ]
    assert check_sets(h, {"s1", "s3"}, "s").status == PASS
    lost = check_sets(h, {"s3"}, "s")
    assert lost.status == FAIL and lost.evidence["lost_creates"][0]["name"] == "s1"
    assert check_sets(h, {"s1", "s2", "s3"}, "s").evidence["undone_deletes"]
    assert check_sets(h, {"s1", "s3", "s9"}, "s").evidence["phantoms"] == ["s9"]
    # A create that timed out may or may not exist; both are fine.
    u = [op("create", None, 0, None, "unknown", key="s4")]
    assert check_sets(u, {"s4"}, "s").status == PASS and check_sets(u, set(), "s").status == PASS


def qemu(t: float, hosts: dict[str, dict[str, list[Any]]], doubles: Any = None) -> Sample:
    return Sample(t, "qemu", {"hosts": hosts, "doubles": doubles or {}})


def test_double_run_is_caught_and_a_frozen_copy_is_not_live() -> None:
    ok = [
        qemu(0, {"h1": {"vm1": [10, "S"]}, "h2": {}}),
        qemu(1, {"h1": {}, "h2": {"vm1": [20, "R"]}}),
    ]
    assert check_double_run(ok).status == PASS
    both = {"vm1": [["h1", 10, "S"], ["h2", 20, "R"]]}
    bad = [*ok, qemu(2, {"h1": {"vm1": [10, "S"]}, "h2": {"vm1": [20, "R"]}}, both)]
    v = check_double_run(bad)
    assert v.status == FAIL and v.evidence["vms"] == ["vm1"]
    frozen = {"vm1": [["h1", 10, "T"], ["h2", 20, "R"]]}
    assert check_double_run([qemu(3, {}, frozen)]).status == PASS


def test_ha_restart_within_and_past_the_bound() -> None:
    s = [
        qemu(0, {"h1": {"vm1": [1, "S"]}}),
        qemu(5, {}),
        qemu(12, {"h2": {"vm1": [2, "S"]}}),
        qemu(20, {"h2": {"vm1": [2, "S"]}}),
    ]
    v = check_ha(s, ["vm1"], end=20, bound_s=30)
    assert v.status == PASS and v.evidence["recoveries_s"] == [7]
    assert check_ha(s, ["vm1"], end=20, bound_s=5).status == FAIL
    # During a whole-cluster outage the longer bound applies.
    assert check_ha(s, ["vm1"], end=20, bound_s=5, outages=[Outage(4, 8)]).status == PASS
    never_back = s[:2]
    assert check_ha(never_back, ["vm1"], end=60, bound_s=30).status == FAIL
    assert check_ha(s, ["vm1", "vm2"], end=20, bound_s=30).evidence["never_ran"] == ["vm2"]


def view(rev: int, h: str, role: str = "follower") -> dict[str, Any]:
    return {
        "node_id": h,
        "role": role,
        "leader": "h1",
        "revision": rev,
        "state_hash": f"x{rev}",
        "has_quorum": True,
        "members": ["h1", "h2", "h3"],
    }


def test_convergence() -> None:
    good = {"h1": view(9, "h1", "leader"), "h2": view(9, "h2"), "h3": view(9, "h3")}
    behind = {**good, "h3": view(8, "h3")}
    assert check_convergence([behind, good], 1.0).status == PASS
    assert check_convergence([behind], 30.0).status == FAIL
    two = {**good, "h2": view(9, "h2", "leader")}
    assert "2 hosts say they lead" in check_convergence([two], 30).summary
    split = {**good, "h3": {**view(9, "h3"), "state_hash": "other"}}
    assert check_convergence([split, split, good], 30).status == FAIL
    gone = {**good, "h3": None}
    assert check_convergence([gone], 30).status == FAIL
    missing = {**good, "h2": {**view(9, "h2"), "members": ["h1", "h2"]}}
    assert check_convergence([missing], 30).status == FAIL


def test_availability_gap_on_the_majority_side() -> None:
    ops = [op("read", 1, t, t + 0.1, host="h1") for t in range(0, 10)]
    ops += [op("read", 1, t, t + 5, "unknown", host="h3") for t in range(0, 10, 5)]
    phase = {"name": "partition", "start": 0, "end": 10, "majority": ["h1", "h2"]}
    v = check_availability(ops, [phase], bound_s=3)
    assert v.status == PASS and v.evidence["phases"][0]["failed_fraction"] == round(2 / 12, 4)
    # A refusal (412 CAS conflict) is an answer; a refused connection is not.
    refused = [op("cas", [1, 2], t, t + 0.1, "fail", host="h1") for t in range(0, 10)]
    for o in refused:
        o.error = "precondition_failed"
    assert check_availability(refused, [phase], bound_s=3).status == PASS
    for o in refused:
        o.error = "connect: ConnectionRefusedError"
    assert check_availability(refused, [phase], bound_s=3).status == FAIL
    silent = [o for o in ops if o.start < 2 or o.start > 7]
    assert check_availability(silent, [phase], bound_s=3).status == FAIL
