"""Creates and deletes of uniquely named records, against a final read after healing.

Names are never reused, so each name has at most one create and one delete.
``final`` is what a consistent list returned once the faults had healed.
"""

from __future__ import annotations

from collections.abc import Iterable

from chaos.checkers.verdict import FAIL, PASS, Verdict
from chaos.history import Op


def check_sets(ops: Iterable[Op], final: set[str] | None, prefix: str = "") -> Verdict:
    """No acknowledged create lost, no acknowledged delete undone, nothing unasked for."""
    if final is None:
        return Verdict("sets", FAIL, "no final read after healing", {})
    creates: dict[str, Op] = {}
    deletes: dict[str, Op] = {}
    for o in ops:
        if o.f == "create":
            creates[o.key] = o
        elif o.f == "delete":
            deletes[o.key] = o
    lost, undone, phantom, refused_but_there = [], [], [], []
    for name, c in creates.items():
        d = deletes.get(name)
        deleting = d is not None and d.type != "fail"
        if c.type == "ok" and not deleting and name not in final:
            lost.append({"name": name, "op": c.id, "host": c.host, "acked_at": c.end})
        if c.type == "fail" and name in final:
            refused_but_there.append({"name": name, "op": c.id, "error": c.error})
    for name, d in deletes.items():
        if d.type == "ok" and name in final:
            undone.append({"name": name, "op": d.id, "host": d.host, "acked_at": d.end})
    for name in sorted(final):
        if name.startswith(prefix) and name not in creates:
            phantom.append(name)
    evidence = {
        "lost_creates": lost,
        "undone_deletes": undone,
        "phantoms": phantom,
        "refused_but_present": refused_but_there,
        "acked_creates": sum(1 for c in creates.values() if c.type == "ok"),
        "acked_deletes": sum(1 for d in deletes.values() if d.type == "ok"),
        "final_size": len(final),
    }
    problems = len(lost) + len(undone) + len(phantom) + len(refused_but_there)
    if problems:
        parts = [
            f"{len(lost)} acknowledged creates lost" if lost else "",
            f"{len(undone)} acknowledged deletes undone" if undone else "",
            f"{len(phantom)} records nobody created" if phantom else "",
            f"{len(refused_but_there)} refused creates took effect" if refused_but_there else "",
        ]
        return Verdict("sets", FAIL, "; ".join(p for p in parts if p), evidence)
    return Verdict(
        "sets",
        PASS,
        f"{evidence['acked_creates']} acknowledged creates and {evidence['acked_deletes']} "
        "deletes all hold after healing",
        evidence,
    )
