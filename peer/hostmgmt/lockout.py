"""Console lockout: five wrong passwords lock the console for 15 minutes. Pure.

The counter is this host's (kept in the peer's state file, so restarting the
console does not reset it), separate from the cluster's per-account lockout:
keyboard errors at one host's screen do not lock the admin account everywhere.
"""

from __future__ import annotations

from typing import Any

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60


def locked_until(state: dict[str, Any], now: float) -> float | None:
    """When the console unlocks, or None if it is not locked at ``now``."""
    until = state.get("locked_until")
    return float(until) if until is not None and float(until) > now else None


def after_failure(state: dict[str, Any], now: float) -> dict[str, Any]:
    """The state after one more wrong password: the fifth one locks."""
    failures = int(state.get("failures") or 0) + 1
    if failures >= MAX_FAILURES:
        return {"failures": 0, "locked_until": now + LOCK_SECONDS}
    return {"failures": failures, "locked_until": None}


def after_success() -> dict[str, Any]:
    return {"failures": 0, "locked_until": None}


def attempts_left(state: dict[str, Any]) -> int:
    return MAX_FAILURES - int(state.get("failures") or 0)
