"""User records, the first admin, and the failed-login lockout (pure decisions).

The lockout counters live in the replicated ``users`` record, so five failures
spread over several peers lock the account everywhere.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from peer.auth.passwords import ahash_password
from peer.auth.roles import Role
from raft.errors import Conflict
from raft.store import Store, put

INITIAL_ADMIN = "admin"
MAX_FAILED_LOGINS = 5
LOCK_SECONDS = 15 * 60


def user_value(role: Role, password_hash: str, now: float | None = None) -> dict[str, Any]:
    return {
        "role": role.label,
        "password_hash": password_hash,
        "failed_logins": 0,
        "locked_until": None,
        "created_at": time.time() if now is None else now,
    }


def public_user(name: str, value: dict[str, Any]) -> dict[str, Any]:
    """A user as the API shows it: never the password hash."""
    return {
        "name": name,
        "role": value.get("role"),
        "failed_logins": value.get("failed_logins", 0),
        "locked_until": value.get("locked_until"),
        "created_at": value.get("created_at"),
    }


def locked_until(value: dict[str, Any], now: float) -> float | None:
    """When the account unlocks, or None if it is not locked now."""
    until = value.get("locked_until")
    return float(until) if until is not None and float(until) > now else None


def after_failure(value: dict[str, Any], now: float) -> dict[str, Any]:
    """The record after one more failed login: the fifth failure locks it."""
    failed = int(value.get("failed_logins") or 0) + 1
    out = dict(value, failed_logins=failed)
    if failed >= MAX_FAILED_LOGINS:
        out.update(failed_logins=0, locked_until=now + LOCK_SECONDS)
    return out


def after_success(value: dict[str, Any]) -> dict[str, Any] | None:
    """The record after a good login, or None when nothing needs writing."""
    if not value.get("failed_logins") and value.get("locked_until") is None:
        return None
    return dict(value, failed_logins=0, locked_until=None)


async def ensure_initial_admin(store: Store) -> str | None:
    """Create ``admin`` with a random password if it was never created; return the
    password (to be shown once) or None if the admin already exists.

    Safe to call on every peer at every start: the put is conditional on the key
    being absent, so exactly one caller in the cluster's life wins.
    """
    if store.get("users", INITIAL_ADMIN) is not None:
        return None
    password = secrets.token_urlsafe(15)
    value = user_value(Role.ADMIN, await ahash_password(password))
    try:
        await store.commit([put("users", INITIAL_ADMIN, value, expect="absent")])
    except Conflict:
        return None
    return password
