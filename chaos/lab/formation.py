"""Has a lab formed one cluster? Through each host's open ``/api/v1/health`` only.

Formed means what a user relies on: every host answers, has quorum and names
the same cluster id, the same leader and as many nodes as there are hosts,
exactly one host is the Raft leader, and the leader has promoted as many
voters as it wants (3, or 5 from 5 hosts: peer/membership.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chaos.lab.http import ApiError, get_json
from chaos.lab.lab import Lab

Health = dict[str, Any] | None


def target_voters(hosts: int) -> int:
    return min(hosts, 3 if hosts < 5 else 5)


def verdict(views: Sequence[Health], n: int) -> str:
    """The empty string when ``views`` (each host's health, None if it did not answer) show one
    formed cluster of ``n`` hosts; otherwise what is missing. Pure."""
    if len(views) != n:
        return f"{len(views)} hosts answer, {n} expected"
    missing = sum(1 for v in views if v is None)
    if missing:
        return f"{missing} host(s) do not answer"
    vs = [v for v in views if v is not None]
    cids = {str(v.get("cluster_id") or "") for v in vs}
    if "" in cids:
        return f"{sum(1 for v in vs if not v.get('cluster_id'))} host(s) in no cluster yet"
    if len(cids) > 1:
        return f"{len(cids)} cluster instances: {sorted(cids)}"
    if not all(v.get("has_quorum") for v in vs):
        return "a host has no quorum"
    leaders = {v.get("leader") for v in vs}
    if len(leaders) != 1 or None in leaders:
        return f"hosts name {len(leaders)} different leaders"
    behind = {f"h{i + 1}": v.get("nodes") for i, v in enumerate(vs) if v.get("nodes") != n}
    if behind:
        return f"not every host lists {n} nodes yet: {behind}"
    roles = [v.get("raft_role") for v in vs]
    if roles.count("leader") != 1:
        return f"{roles.count('leader')} Raft leaders"
    voters = sum(1 for r in roles if r in ("leader", "follower"))
    if voters != target_voters(n):
        return f"{voters} voters, {target_voters(n)} wanted"
    return ""


def health(lab: Lab, timeout: float = 5.0) -> list[Health]:
    """Every host's health, None for a host that does not answer (in parallel:
    32 peers on 2 cores answer slowly)."""

    def one(url: str) -> Health:
        try:
            body = get_json(url + "api/v1/health", timeout=timeout)
        except ApiError:
            return None
        return body if isinstance(body, dict) else None

    urls = [h.url for h in lab.hosts()]
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, urls))


def start_scrambled(lab: Lab, rng: random.Random, max_delay: float) -> list[str]:
    """Start every (created, stopped) host in a random order, with a random pause
    of up to ``max_delay`` s between two starts, like servers powered on together
    by hand. Returns the order."""
    names = [h.name for h in lab.hosts()]
    rng.shuffle(names)
    for i, name in enumerate(names):
        if i:
            time.sleep(rng.uniform(0, max_delay))  # the fault being injected, not a wait
        lab.start(name)
    return names
