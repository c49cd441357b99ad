"""Building event records and the ops that store them (bounded by ``trim``).

An event goes into the *same* commit as the change it describes, so the event
log never claims a change that did not happen, and never misses one the API made.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from raft.store import Store, put, trim

EVENTS_KEEP = 10_000
# Trim only once the table is this far over its bound: a trim sorts the table,
# so doing it on every write would cost a sort per write.
TRIM_SLACK = 256

LEVELS = ("info", "warning", "error")


def new_key(now: float | None = None) -> str:
    """A unique, time-ordered key (nanoseconds, zero-padded, plus randomness)."""
    ns = int((time.time() if now is None else now) * 1e9)
    # 64 random bits: a leader's pass may log thousands of events with one timestamp.
    return f"{ns:020d}-{secrets.token_hex(8)}"


def event_value(
    kind: str,
    resource: str,
    rid: str,
    message: str,
    *,
    node: str | None = None,
    level: str = "info",
    user: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    return {
        "ts": time.time() if now is None else now,
        "kind": kind,
        "resource": resource,
        "id": rid,
        "node": node,
        "message": message,
        "level": level if level in LEVELS else "info",
        "user": user,
    }


def bounded_ops(store: Store, table: str, keep: int, value: dict[str, Any]) -> list[dict[str, Any]]:
    """The put of one new record into a bounded table, plus a trim when it is due."""
    ops = [put(table, new_key(value.get("ts")), value, expect="absent")]
    if store.count(table) >= keep + TRIM_SLACK:
        ops.append(trim(table, keep))
    return ops


def event_ops(store: Store, value: dict[str, Any]) -> list[dict[str, Any]]:
    return bounded_ops(store, "events", EVENTS_KEEP, value)


async def emit(store: Store, value: dict[str, Any], extra: Sequence[dict[str, Any]] = ()) -> None:
    """Commit one event on its own (for state changes not made through the API)."""
    await store.commit([*extra, *event_ops(store, value)])
