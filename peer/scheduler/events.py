"""Event records for the leader's decisions, committed in the same transaction as
the change they describe (so the log never claims a move that did not happen).

The record is the ``events`` table's (peer.events.log, docs/state.md); the
resource follows from the kind's prefix: ``vm.*`` events are about ``vms``,
``node.*`` about ``nodes``, ``cluster.*`` about the cluster.
"""

from __future__ import annotations

from typing import Any

from peer.events.log import EVENTS_KEEP, bounded_ops, event_value
from raft.store import Store

RESOURCES = {"vm": "vms", "node": "nodes", "cluster": "cluster"}


def resource_of(kind: str) -> str:
    return RESOURCES.get(kind.split(".", 1)[0], "cluster")


def event_ops(
    store: Store,
    *,
    now: float,
    kind: str,
    rid: str,
    message: str,
    node: str | None = None,
    level: str = "info",
) -> list[dict[str, Any]]:
    """The ops that store one event (and trim the table when it is due)."""
    value = event_value(kind, resource_of(kind), rid, message, node=node, level=level, now=now)
    return bounded_ops(store, "events", EVENTS_KEEP, value)
