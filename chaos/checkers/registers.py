"""Register histories: linearizability per key, plus the cheap sanity checks.

The search is the Wing & Gong / Lowe algorithm as Porcupine runs it: call and
return entries in time order in a linked list; linearize a call whose turn has
come (no return entry before it), backtrack at a return entry whose op is not
yet linearized; memoize (linearized set, state). ``unknown`` ops return at
infinity, so they may take effect at any point after their call, or never.
Bounded by ``max_steps`` per key: past it the answer is ``unknown``, never a hang.

Ops (``chaos.history.Op``): ``read`` (value: what was read), ``write`` (value:
what was written), ``cas`` (value: ``[old, new]``). ``fail`` ops had no effect
and are ignored; a ``read`` that did not answer ``ok`` tells nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chaos.checkers.verdict import FAIL, PASS, UNKNOWN, Verdict, worst
from chaos.history import Op

DEFAULT_MAX_STEPS = 200_000


def _step(state: Any, op: Op) -> tuple[bool, Any]:
    if op.f == "read":
        return state == op.value, state
    if op.f == "write":
        return True, op.value
    if op.f == "cas":
        old, new = op.value
        return state == old, new
    raise ValueError(f"not a register op: {op.f}")


@dataclass
class _Entry:
    op: int
    is_call: bool
    time: float
    prev: _Entry | None = None
    next: _Entry | None = None
    match: _Entry | None = None  # call <-> its return


@dataclass
class KeyResult:
    key: str
    status: str
    steps: int
    ops: int
    detail: str = ""


def _relevant(ops: Iterable[Op]) -> list[Op]:
    out = []
    for o in ops:
        if o.f not in ("read", "write", "cas"):
            continue
        if o.type == "ok" or (o.type in ("unknown", "invoke") and o.f != "read"):
            out.append(o)
    return out


def check_key(
    key: str, ops: list[Op], initial: Any = None, max_steps: int = DEFAULT_MAX_STEPS
) -> KeyResult:
    """Is this one register's history linearizable?"""
    ops = _relevant(ops)
    n = len(ops)
    if n == 0:
        return KeyResult(key, PASS, 0, 0)
    events: list[tuple[float, int, int, bool]] = []
    for i, o in enumerate(ops):
        end = o.end if o.type == "ok" and o.end is not None else math.inf
        events.append((o.start, 1, i, True))
        # Returns sort before calls at the same instant: an op that ended when
        # another began is not concurrent with it.
        events.append((end, 0, i, False))
    events.sort()
    head = _Entry(-1, False, -math.inf)
    prev = head
    calls: dict[int, _Entry] = {}
    for t, _, i, is_call in events:
        e = _Entry(i, is_call, t, prev=prev)
        prev.next = e
        prev = e
        if is_call:
            calls[i] = e
        else:
            calls[i].match = e
            e.match = calls[i]

    def lift(e: _Entry) -> None:
        assert e.prev is not None and e.match is not None
        e.prev.next = e.next
        if e.next is not None:
            e.next.prev = e.prev
        m = e.match
        assert m.prev is not None
        m.prev.next = m.next
        if m.next is not None:
            m.next.prev = m.prev

    def unlift(e: _Entry) -> None:
        m = e.match
        assert m is not None and m.prev is not None and e.prev is not None
        m.prev.next = m
        if m.next is not None:
            m.next.prev = m
        e.prev.next = e
        if e.next is not None:
            e.next.prev = e

    unknown_op = [o.type != "ok" for o in ops]
    state: Any = initial
    done = 0
    cache: set[tuple[int, Any]] = set()
    stack: list[tuple[_Entry, Any]] = []
    steps = 0
    entry = head.next
    while entry is not None:
        steps += 1
        if steps > max_steps:
            return KeyResult(key, UNKNOWN, steps, n, f"search bound of {max_steps} steps reached")
        if entry.is_call:
            ok, new_state = _step(state, ops[entry.op])
            if ok:
                new_done = done | (1 << entry.op)
                if (new_done, new_state) not in cache:
                    cache.add((new_done, new_state))
                    stack.append((entry, state))
                    state, done = new_state, new_done
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if unknown_op[entry.op]:
                # Returns at infinity: every ok op before it is linearized.
                return KeyResult(key, PASS, steps, n)
            if not stack:
                o = ops[entry.op]
                return KeyResult(
                    key, FAIL, steps, n, f"no order explains op {o.id} ({o.f} {o.value!r})"
                )
            call, state = stack.pop()
            done &= ~(1 << call.op)
            unlift(call)
            entry = call.next
    return KeyResult(key, PASS, steps, n)


def by_key(ops: Iterable[Op]) -> dict[str, list[Op]]:
    out: dict[str, list[Op]] = {}
    for o in ops:
        if o.f in ("read", "write", "cas"):
            out.setdefault(o.key, []).append(o)
    return out


def check_linearizable(
    ops: Iterable[Op], initial: Any = None, max_steps: int = DEFAULT_MAX_STEPS
) -> Verdict:
    results = [check_key(k, v, initial, max_steps) for k, v in sorted(by_key(ops).items())]
    status = worst([r.status for r in results])
    bad = [r for r in results if r.status != PASS]
    n_ops = sum(r.ops for r in results)
    summary = {
        PASS: f"{len(results)} registers, {n_ops} ops: linearizable",
        FAIL: f"not linearizable: {', '.join(r.key for r in bad if r.status == FAIL)}",
        UNKNOWN: f"undecided (search bound) for {', '.join(r.key for r in bad)}",
    }[status]
    return Verdict(
        "linearizable",
        status,
        summary,
        {
            "keys": [
                {
                    "key": r.key,
                    "status": r.status,
                    "ops": r.ops,
                    "steps": r.steps,
                    "detail": r.detail,
                }
                for r in results
            ]
        },
    )


def check_reads_written(ops: Iterable[Op], initial: Any = None) -> Verdict:
    """Nothing read that was never written; nothing read whose write certainly failed."""
    ops = list(ops)
    attempted: dict[str, set[Any]] = {}
    failed: dict[str, set[Any]] = {}
    for o in ops:
        if o.f in ("write", "cas"):
            v = o.value[1] if o.f == "cas" else o.value
            (failed if o.type == "fail" else attempted).setdefault(o.key, set()).add(_h(v))
    bad = []
    for o in ops:
        if o.f == "read" and o.type == "ok" and o.value != initial:
            v = _h(o.value)
            if v not in attempted.get(o.key, set()):
                why = "its write failed" if v in failed.get(o.key, set()) else "never written"
                bad.append({"op": o.id, "key": o.key, "value": o.value, "host": o.host, "why": why})
    if bad:
        return Verdict(
            "reads_written",
            FAIL,
            f"{len(bad)} reads of values {bad[0]['why']}",
            {"reads": bad[:20]},
        )
    n = sum(1 for o in ops if o.f == "read" and o.type == "ok")
    return Verdict("reads_written", PASS, f"{n} reads, each of a value some write attempted", {})


def _h(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v
