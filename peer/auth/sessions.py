"""Browser sessions: a random id in an HttpOnly cookie; the store keys the record
by ``sha256(id)`` so a copy of the state cannot be replayed as a cookie."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

COOKIE = "qx_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL_S = 12 * 3600


@dataclass(frozen=True)
class NewSession:
    sid: str  # goes into the cookie only
    key: str  # the store key
    csrf: str
    value: dict[str, Any]


def session_key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def make_session(user: str, now: float | None = None) -> NewSession:
    now = time.time() if now is None else now
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    value = {"user": user, "csrf": csrf, "created_at": now, "expires_at": now + SESSION_TTL_S}
    return NewSession(sid, session_key(sid), csrf, value)
