"""Event records for the leader's decisions, committed in the same transaction as
the change they describe (so the log never claims a move that did not happen).

The record shape and key format match the ``events`` table of docs/state.md
(``ts, kind, resource, id, node, message, level``; key = zero-padded time in ns
plus randomness, so keys sort in time order).
"""

from __future__ import annotations

import secrets
from typing import Any

from raft.store import Store, put, trim

EVENTS_KEEP = 10_000
# A trim sorts the table, so only trim once it is this far over its bound.
TRIM_SLACK = 256


def event_ops(
    store: Store,
    *,
    now: float,
    kind: str,
    rid: str,
    message: str,
    node: str | None = None,
    level: str = "info",
    resource: str = "vm",
) -> list[dict[str, Any]]:
    """The ops that store one event (and trim the table when it is due)."""
    value = {
        "ts": now,
        "kind": kind,
        "resource": resource,
        "id": rid,
        "node": node,
        "message": message,
        "level": level,
        "user": None,
    }
    # 64 random bits: a pass may log thousands of events with the same timestamp.
    ops = [put("events", f"{int(now * 1e9):020d}-{secrets.token_hex(8)}", value, "absent")]
    if store.count("events") >= EVENTS_KEEP + TRIM_SLACK:
        ops.append(trim("events", EVENTS_KEEP))
    return ops
