"""Logging in and out: session cookies with a CSRF token, and who-am-I."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from peer.api.errors import Locked, Unauthenticated
from peer.api.failures import log_failure
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.passwords import averify_password
from peer.auth.roles import ROLE_NAMES, Role
from peer.auth.sessions import COOKIE, SESSION_TTL_S, make_session
from peer.auth.throttle import LoginThrottle, Throttled
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


def throttle_of(req: ApiRequest) -> LoginThrottle:
    """This peer's login limits (one per peer, in memory)."""
    t = req.ctx.services.get("login_throttle")
    if not isinstance(t, LoginThrottle):
        t = req.ctx.services["login_throttle"] = LoginThrottle()
    return t


def _verify_slots(req: ApiRequest) -> asyncio.Semaphore:
    """At most two password checks at once on a peer: scrypt is made expensive on
    purpose, and a flood of logins must not take every core from the API."""
    s = req.ctx.services.get("login_slots")
    if not isinstance(s, asyncio.Semaphore):
        s = req.ctx.services["login_slots"] = asyncio.Semaphore(2)
    return s


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
    for one user from one address lock that user *from that address* for 15
    minutes (423); an address that fails 20 times in 10 minutes waits (429)."""
    name, password = req.body["username"], req.body["password"]
    source = req.remote or "?"
    throttle = throttle_of(req)
    now = time.time()
    rec = req.store.get("users", name)
    if rec is not None and rec.value.get("unlocked_at"):
        throttle.unlock(name, before=float(rec.value["unlocked_at"]))  # an admin's unlock
    try:
        ticket = throttle.reserve(name, source, now)  # before any check: parallel guesses count
    except Throttled as e:
        log_failure(req, e.code)
        err = Locked(e.message, code=e.code, retry_after=e.retry_after)
        err.status = e.status
        raise err from None
    stored = str(rec.value.get("password_hash")) if rec is not None else None
    try:
        async with _verify_slots(req):
            ok = await averify_password(password, stored)
    except BaseException:
        throttle.failed(ticket, time.time())
        raise
    if not ok:
        locked = throttle.failed(ticket, time.time())
        log_failure(req, "account_locked" if locked else "invalid_credentials")
        delay = throttle.slowdown(time.time())
        if delay:
            await asyncio.sleep(delay)
        if locked:
            raise Locked(
                f"too many failed logins: {name} is locked from {source} for 15 minutes",
                retry_after=int(throttle.lock_s),
            )
        raise Unauthenticated(BAD_LOGIN, code="invalid_credentials")
    throttle.succeeded(ticket)
    assert rec is not None
    sess = make_session(name, now)
    ops = [put("sessions", sess.key, sess.value, expect="absent")]
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
