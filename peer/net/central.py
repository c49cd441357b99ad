"""Where OVN's central databases run: chosen by the leader, kept in ``ovn/central``.

One host runs the northbound and southbound databases and ovn-northd. The
leader keeps it where it is while that host's lease is fresh, and otherwise
moves it to the live host with networking that sorts first. Nothing is lost by
a move: the northbound database is a projection of the cluster state and the
new central host rebuilds it; northd and every host's ovn-controller refill the
southbound one. (OVN's own clustered databases, three or five of them, would
make the move faster; they are not used yet, see docs/network.md.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CENTRAL = "central"
CHASSIS_PREFIX = "chassis:"


def chassis_key(node: str) -> str:
    return CHASSIS_PREFIX + node


def alive(leases: Mapping[str, Mapping[str, Any]], now: float, within: float) -> set[str]:
    """Nodes whose committed lease renewal is at most ``within`` seconds old and
    who have not fenced themselves."""
    return {
        nid
        for nid, lease in leases.items()
        if not lease.get("fenced") and now - float(lease.get("renewed_at") or 0) <= within
    }


def pick(
    current: Mapping[str, Any] | None,
    chassis: Mapping[str, Mapping[str, Any]],
    live: set[str],
) -> str | None:
    """The host that should run the central databases. Pure.

    ``chassis``: node id -> its ``ovn/chassis:<id>`` record (hosts with networking)."""
    candidates = sorted(n for n in chassis if n in live)
    if current is not None and current.get("node") in candidates:
        return str(current["node"])
    return candidates[0] if candidates else None


def record(node: str, chassis: Mapping[str, Any], epoch: int, now: float) -> dict[str, Any]:
    encap = str(chassis.get("encap_ip"))
    return {
        "node": node,
        "address": encap,
        "sb_remote": f"tcp:{encap}:6642",
        "epoch": epoch,
        "since": now,
    }
