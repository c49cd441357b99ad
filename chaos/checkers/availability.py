"""Availability: the majority side kept answering; failures per phase.

A phase is a fault window ``{"name", "start", "end", "majority": [hosts]}``
(``majority`` empty: nobody was expected to answer, e.g. a whole-cluster power
cycle) or a quiet stretch between faults (all hosts expected to answer).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from chaos.checkers.verdict import FAIL, PASS, Verdict
from chaos.history import Op


def answered(o: Op) -> bool:
    """The peer answered: ok, or refused with a 4xx (a 412 CAS conflict is an answer)."""
    return o.type == "ok" or (o.type == "fail" and not (o.error or "").startswith("connect"))


def phase_stats(
    ops: Sequence[Op], start: float, end: float, hosts: set[str] | None
) -> dict[str, Any]:
    sel = [
        o
        for o in ops
        if start <= o.start < end and o.type != "invoke" and (hosts is None or o.host in hosts)
    ]
    n = len(sel)
    ok = sum(1 for o in sel if o.type == "ok")
    refused = sum(1 for o in sel if o.type == "fail" and answered(o))
    unreachable = sum(1 for o in sel if o.type == "fail" and not answered(o))
    unknown = sum(1 for o in sel if o.type == "unknown")
    return {
        "requests": n,
        "ok": ok,
        "refused_4xx": refused,
        "unreachable": unreachable,
        "timed_out_or_5xx": unknown,
        "failed_fraction": round((unreachable + unknown) / n, 4) if n else None,
    }


def longest_gap(ops: Sequence[Op], start: float, end: float, hosts: set[str]) -> float:
    """Longest stretch in [start, end] without an answer through ``hosts``."""
    oks = sorted(
        o.end
        for o in ops
        if answered(o) and o.end is not None and o.host in hosts and start <= o.end <= end
    )
    points = [start, *oks, end]
    return round(max(b - a for a, b in itertools.pairwise(points)), 3)


def check_availability(
    ops: Sequence[Op], phases: Sequence[dict[str, Any]], bound_s: float
) -> Verdict:
    rows = []
    worst_gap = 0.0
    late = []
    for p in phases:
        majority = set(p.get("majority") or [])
        row = {
            "name": p["name"],
            "start": p["start"],
            "end": p["end"],
            "majority": sorted(majority),
            **phase_stats(ops, p["start"], p["end"], None),
        }
        if majority and p["end"] > p["start"]:
            gap = longest_gap(ops, p["start"], p["end"], majority)
            row["majority_stats"] = phase_stats(ops, p["start"], p["end"], majority)
            row["majority_max_unavailable_s"] = gap
            worst_gap = max(worst_gap, gap)
            if gap > bound_s:
                late.append({"phase": p["name"], "gap_s": gap})
        rows.append(row)
    evidence = {"phases": rows, "max_unavailable_s": worst_gap, "bound_s": bound_s}
    if late:
        return Verdict(
            "availability",
            FAIL,
            f"majority side silent for {max(x['gap_s'] for x in late):.1f} s "
            f"(bound {bound_s:g} s) in {len(late)} phases",
            evidence,
        )
    return Verdict(
        "availability",
        PASS,
        f"majority side answered throughout (longest gap {worst_gap:.1f} s, bound {bound_s:g} s)",
        evidence,
    )
