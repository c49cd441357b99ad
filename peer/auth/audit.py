"""Audit records: who did what, when, from where, with what result (bounded table)."""

from __future__ import annotations

import time
from typing import Any

from peer.events.log import bounded_ops
from raft.store import Store

AUDIT_KEEP = 10_000


def audit_value(
    user: str, action: str, resource: str, remote: str | None, result: str, now: float | None = None
) -> dict[str, Any]:
    """``action`` is ``METHOD /path``; ``result`` is ``ok`` or the error code."""
    return {
        "ts": time.time() if now is None else now,
        "user": user,
        "action": action,
        "resource": resource,
        "remote": remote,
        "result": result,
    }


def audit_ops(store: Store, value: dict[str, Any]) -> list[dict[str, Any]]:
    return bounded_ops(store, "audit", AUDIT_KEEP, value)
