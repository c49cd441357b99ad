"""Logging in and out: session cookies with a CSRF token, and who-am-I."""

from __future__ import annotations

import time

from aiohttp import web

from peer.api.errors import ConflictError, Locked, Unauthenticated
from peer.api.resources.common import catch_up
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.passwords import averify_password
from peer.auth.roles import ROLE_NAMES, Role
from peer.auth.sessions import COOKIE, SESSION_TTL_S, make_session
from peer.auth.users import LOCK_SECONDS, after_failure, after_success, locked_until
from raft.store import delete, put

routes = Routes(tag="auth")

LOGIN = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
}
SESSION = {
    "type": "object",
    "required": ["user", "role", "csrf_token", "expires_at"],
    "properties": {
        "user": {"type": "string"},
        "role": {"type": "string", "enum": ROLE_NAMES},
        "csrf_token": {"type": "string", "description": "send as X-CSRF-Token on writes"},
        "expires_at": {"type": "number"},
    },
}
WHOAMI = {
    "type": "object",
    "required": ["user", "role", "via"],
    "properties": {
        "user": {"type": "string"},
        "role": {"type": "string", "enum": ROLE_NAMES},
        "via": {"type": "string", "enum": ["session", "token", "local"]},
        "token_id": {"type": ["string", "null"]},
        "csrf_token": {
            "type": ["string", "null"],
            "description": "for a browser session: the token to send as X-CSRF-Token",
        },
    },
}
BAD_LOGIN = "wrong user name or password"


async def _count_failure(req: ApiRequest, name: str, now: float) -> bool:
    """Record one failed login (CAS, retried: failures racing on several peers
    all count). Returns True when this failure locked the account."""
    for _ in range(8):
        rec = req.store.get("users", name)
        if rec is None:
            return False
        new = after_failure(rec.value, now)
        locked = new.get("locked_until") != rec.value.get("locked_until")
        event = (
            ("user.locked", "users", name, f"{name} locked after failed logins") if locked else None
        )
        try:
            await req.commit(
                [put("users", name, new, expect=rec.version)],
                event=event,
                level="warning",
                audit_result="invalid_credentials",
            )
            return locked
        except ConflictError:
            # Another peer counted a failure first; this replica may not have
            # applied it yet, so catch up before re-reading.
            await catch_up(req)
            continue
    return False


@routes.post(
    "/auth/login",
    role=None,
    summary="Log in: a session cookie and a CSRF token",
    body=LOGIN,
    response=SESSION,
)
async def login(req: ApiRequest) -> web.StreamResponse:
    """Sets an HttpOnly, Secure, SameSite=Strict cookie. Cookie-authenticated writes
    must send the returned ``csrf_token`` as ``X-CSRF-Token``. Five failed logins
    lock the account for 15 minutes on every peer."""
    name, password = req.body["username"], req.body["password"]
    now = time.time()
    rec = req.store.get("users", name)
    if rec is not None and (until := locked_until(rec.value, now)) is not None:
        raise Locked(
            f"the account is locked for {int(until - now) + 1} more seconds",
            retry_after=int(until - now) + 1,
        )
    stored = str(rec.value.get("password_hash")) if rec is not None else None
    if not await averify_password(password, stored):
        if rec is not None and await _count_failure(req, name, now):
            raise Locked(
                "too many failed logins: the account is locked for 15 minutes",
                retry_after=LOCK_SECONDS,
            )
        raise Unauthenticated(BAD_LOGIN, code="invalid_credentials")
    assert rec is not None
    sess = make_session(name, now)
    ops = [put("sessions", sess.key, sess.value, expect="absent")]
    reset = after_success(rec.value)
    if reset is not None:
        ops.append(put("users", name, reset, expect=rec.version))
    # Drop this user's expired sessions so the table does not grow without bound.
    for old in req.store.scan("sessions"):
        if old.value.get("user") == name and float(old.value.get("expires_at") or 0) <= now:
            ops.append(delete("sessions", old.key))
    await req.commit(ops)
    body = {
        "user": name,
        "role": rec.value.get("role"),
        "csrf_token": sess.csrf,
        "expires_at": sess.value["expires_at"],
    }
    resp = web.json_response(body, headers={"X-Quantix-Revision": str(req.store.revision)})
    resp.set_cookie(
        COOKIE,
        sess.sid,
        max_age=SESSION_TTL_S,
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return resp


@routes.post("/auth/logout", role=Role.VIEWER, summary="End this browser session", status=204)
async def logout(req: ApiRequest) -> web.StreamResponse:
    """Deletes the session record (on every peer) and clears the cookie."""
    if req.principal.session_key:
        await req.commit([delete("sessions", req.principal.session_key)])
    resp = web.Response(status=204)
    resp.del_cookie(COOKIE, path="/")
    return resp


@routes.get(
    "/auth/whoami", role=Role.VIEWER, summary="Who the credentials belong to", response=WHOAMI
)
async def whoami(req: ApiRequest) -> Reply:
    p = req.principal
    # A page reloaded after login lost the CSRF token it was given; it can ask
    # again (only same-origin script can read this answer).
    return Reply(
        {
            "user": p.user,
            "role": p.role.label,
            "via": p.via,
            "token_id": p.token_id,
            "csrf_token": p.csrf if p.via == "session" else None,
        }
    )
