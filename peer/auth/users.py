"""User records and the first admin. (Failed logins are counted per peer, in
memory: peer.auth.throttle.)"""

from __future__ import annotations

import secrets
import time
from typing import Any

from peer.auth.passwords import ahash_password
from peer.auth.roles import Role
from raft.errors import Conflict
from raft.store import Store, put

INITIAL_ADMIN = "admin"


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
