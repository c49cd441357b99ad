"""API tokens: ``qx_<id>_<secret>``. The store keeps ``sha256(secret)``, never the token.

A fast hash is right here (unlike passwords): the secret is 256 random bits, so
there is nothing to brute-force, and every API call verifies one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from peer.auth.roles import Role

PREFIX = "qx_"


@dataclass(frozen=True)
class NewToken:
    id: str
    token: str  # shown to the user once
    value: dict[str, Any]  # the record to store


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(
    user: str, role: Role, name: str, ttl_s: float | None, created_by: str, now: float | None = None
) -> NewToken:
    now = time.time() if now is None else now
    tid = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    value = {
        "user": user,
        "role": role.label,
        "scopes": [role.label],
        "name": name,
        "created_at": now,
        "created_by": created_by,
        "expires_at": None if ttl_s is None else now + ttl_s,
        "revoked": False,
        "hash": secret_hash(secret),
    }
    return NewToken(tid, f"{PREFIX}{tid}_{secret}", value)


def split_token(token: str) -> tuple[str, str] | None:
    """``qx_<id>_<secret>`` → (id, secret), or None when it is not one of ours."""
    if not token.startswith(PREFIX):
        return None
    tid, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or not tid or not secret or len(tid) > 64:
        return None
    return tid, secret


def token_valid(value: dict[str, Any], secret: str, now: float) -> bool:
    """The secret matches, and the token is neither revoked nor expired."""
    if not hmac.compare_digest(str(value.get("hash", "")), secret_hash(secret)):
        return False
    if value.get("revoked"):
        return False
    exp = value.get("expires_at")
    return exp is None or float(exp) > now


def public_view(tid: str, value: dict[str, Any]) -> dict[str, Any]:
    """A token record as the API shows it: everything but the hash."""
    out = {k: v for k, v in value.items() if k != "hash"}
    out["id"] = tid
    return out
