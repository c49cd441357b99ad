"""Convergence after the faults heal: one leader, equal replicas, every host a member.

A round is what every host's ``GET /peer`` and ``GET /cluster`` answered at about
the same moment: ``{host: {"node_id", "role", "leader", "revision", "state_hash",
"has_quorum", "members": [node ids the host lists as active members]} | None}``.
Leases renew every heartbeat, so replicas are only comparable in a round in
which they all stand at the same revision; the runner polls until one comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaos.checkers.verdict import FAIL, PASS, Verdict


def round_problems(rnd: dict[str, dict[str, Any] | None]) -> list[str]:
    """Why this round is not converged (empty: it is)."""
    out: list[str] = []
    down = sorted(h for h, v in rnd.items() if v is None)
    if down:
        return [f"no answer from {', '.join(down)}"]
    views = {h: v for h, v in rnd.items() if v is not None}
    leaders = sorted(h for h, v in views.items() if v.get("role") == "leader")
    if len(leaders) != 1:
        out.append(f"{len(leaders)} hosts say they lead: {leaders}")
    if len({v.get("leader") for v in views.values()}) != 1:
        out.append("hosts name different leaders")
    if not all(v.get("has_quorum") for v in views.values()):
        out.append("some host has no quorum")
    revs = {h: v.get("revision") for h, v in views.items()}
    hashes = {h: v.get("state_hash") for h, v in views.items()}
    if len(set(revs.values())) != 1:
        out.append(f"revisions differ: {revs}")
    elif len(set(hashes.values())) != 1:
        out.append(f"same revision, different state: {hashes}")
    ids = {v.get("node_id") for v in views.values()}
    for h, v in views.items():
        missing = ids - set(v.get("members") or [])
        if missing:
            out.append(f"{h} does not list {sorted(str(m) for m in missing)} as members")
    return out


def diverged(rounds: Sequence[dict[str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """Revisions at which hosts in one round reported different state hashes, in two
    or more rounds (a host reads its revision and hash a moment apart, so one such
    round alone can be a commit landing in between)."""
    count: dict[int, int] = {}
    example: dict[int, dict[str, str]] = {}
    for rnd in rounds:
        by_rev: dict[int, dict[str, str]] = {}
        for h, v in rnd.items():
            if v is not None and v.get("revision") is not None:
                by_rev.setdefault(int(v["revision"]), {})[h] = str(v.get("state_hash"))
        for rev, hashes in by_rev.items():
            if len(set(hashes.values())) > 1:
                count[rev] = count.get(rev, 0) + 1
                example[rev] = hashes
    return [{"revision": r, "hashes": example[r]} for r in sorted(count) if count[r] >= 2]


def check_convergence(
    rounds: Sequence[dict[str, dict[str, Any] | None]], waited_s: float
) -> Verdict:
    if not rounds:
        return Verdict("convergence", FAIL, "never polled", {})
    good = [r for r in rounds if not round_problems(r)]
    splits = diverged(rounds)
    if good and not splits:
        r = good[0]
        any_view = next(v for v in r.values() if v is not None)
        return Verdict(
            "convergence",
            PASS,
            f"{len(r)} hosts at revision {any_view['revision']}, state {any_view['state_hash']}, "
            f"one leader, all members (after {waited_s:.1f} s)",
            {"round": r, "rounds_polled": len(rounds)},
        )
    last = rounds[-1]
    return Verdict(
        "convergence",
        FAIL,
        "; ".join(round_problems(last)) or f"replicas diverged at {len(splits)} revisions",
        {"last_round": last, "divergent": splits[:10], "waited_s": waited_s},
    )
