"""Turning a request's credentials into a Principal (bearer token or session cookie).

Reads only the local replica: a revocation or logout is a committed write, so
every peer sees it as soon as it has applied that revision.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from peer.auth.principal import Principal
from peer.auth.roles import Role
from peer.auth.sessions import COOKIE, session_key
from peer.auth.tokens import split_token, token_valid
from raft.store import Store


class AuthFailed(Exception):
    """Credentials were presented but do not identify anyone (code says why)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _user_role(store: Store, user: str) -> Role | None:
    """The user's current role, or None if the user is gone.

    A lockout stops *password* logins only: otherwise anyone could disable an
    admin's automation tokens and open sessions by failing five logins.
    """
    rec = store.get("users", user)
    if rec is None:
        return None
    try:
        return Role.parse(str(rec.value.get("role")))
    except ValueError:
        return None


def authenticate(
    store: Store, headers: Mapping[str, str], cookies: Mapping[str, str], now: float | None = None
) -> Principal | None:
    """The caller, or None when no credentials were presented; raises AuthFailed
    for credentials that are wrong, expired, revoked, or of a removed user."""
    now = time.time() if now is None else now
    auth = headers.get("Authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthFailed("invalid_token", "only 'Authorization: Bearer qx_...' is accepted")
        parts = split_token(token.strip())
        rec = store.get("tokens", parts[0]) if parts else None
        if parts is None or rec is None or not token_valid(rec.value, parts[1], now):
            raise AuthFailed("invalid_token", "the token is unknown, expired or revoked")
        user = str(rec.value.get("user"))
        urole = _user_role(store, user)
        if urole is None:
            raise AuthFailed("invalid_token", "the token's user no longer exists")
        # A token never grants more than its user has *now* (a demoted user's
        # old tokens shrink with them).
        try:
            role = min(Role.parse(str(rec.value.get("role"))), urole)
        except ValueError:
            raise AuthFailed(
                "invalid_token", "the token's role is not one this API knows"
            ) from None
        return Principal(user=user, role=role, via="token", token_id=parts[0])
    sid = cookies.get(COOKIE)
    if sid:
        key = session_key(sid)
        srec = store.get("sessions", key)
        if srec is None or float(srec.value.get("expires_at") or 0) <= now:
            raise AuthFailed("session_expired", "the session has expired; log in again")
        user = str(srec.value.get("user"))
        urole = _user_role(store, user)
        if urole is None:
            raise AuthFailed("session_expired", "the session's user no longer exists")
        return Principal(
            user=user, role=urole, via="session", session_key=key, csrf=str(srec.value.get("csrf"))
        )
    return None
