"""Enforcing a route's declaration around its handler.

In order: authenticate (unix socket rule, bearer token, session cookie), check
the role, check CSRF on cookie-authenticated writes, parse and validate the
query and the body, run the handler, shape the response (ETag, revision), and
write an audit record for every mutating call that did not already commit one.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from peer.api.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    Unauthenticated,
    ValidationFailed,
    from_store_error,
)
from peer.api.failures import log_unauthenticated
from peer.api.keys import CTX_KEY
from peer.api.routes import DEADLINE_HEADER, ApiRequest, HandlerResult, Reply, Route, parse_deadline
from peer.api.schema import validate
from peer.auth.audit import audit_ops, audit_value
from peer.auth.authenticate import AuthFailed, authenticate
from peer.auth.principal import ANONYMOUS_USER, Principal
from peer.auth.roles import Role
from peer.auth.sessions import CSRF_HEADER
from peer.context import PeerContext
from raft.errors import StoreError

log = logging.getLogger(__name__)

LOCAL_USER = "root@local"
REVISION_HEADER = "X-Quantix-Revision"
# Read-your-writes on another peer: "answer only once you have applied revision N"
# (N from the X-Quantix-Revision of an earlier answer). A wait, not a commit.
MIN_REVISION_HEADER = "X-Quantix-Min-Revision"
MIN_REVISION_WAIT_S = 5.0
AiohttpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def local_principal(request: web.Request) -> Principal | None:
    """The unix-socket rule: a request that arrived over a unix socket is the
    local root admin only if the socket file is owned by root with mode 0600
    (no group/other bits) *and* the connecting process is root (SO_PEERCRED).
    Anything else falls through to ordinary token/cookie authentication."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    try:
        path = sock.getsockname()
        st = os.stat(path)
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", raw)
    except (OSError, TypeError, ValueError):
        return None
    if st.st_uid != 0 or st.st_mode & 0o077 or uid != 0:
        return None
    return Principal(user=LOCAL_USER, role=Role.ADMIN, via="local")


async def wait_min_revision(request: web.Request, ctx: PeerContext) -> None:
    raw = request.headers.get(MIN_REVISION_HEADER)
    if raw is None:
        return
    try:
        want = int(raw)
    except ValueError:
        raise BadRequest(
            f"{MIN_REVISION_HEADER} must be a revision number", code="bad_header"
        ) from None
    await ctx.store.wait_revision(want, timeout=MIN_REVISION_WAIT_S)


WS_TOKEN_PREFIX = "qx-token."  # noqa: S105 (a prefix, not a secret)


def subprotocol_token(offered: str) -> str | None:
    """The token in a ``qx-token.<token>`` websocket subprotocol, if one is offered."""
    for p in offered.split(","):
        p = p.strip()
        if p.startswith(WS_TOKEN_PREFIX):
            return p.removeprefix(WS_TOKEN_PREFIX)
    return None


def _authorize(request: web.Request, route: Route, ctx: PeerContext) -> Principal:
    if route.role is None:
        return Principal(user=ANONYMOUS_USER, role=Role.VIEWER, via="anonymous")
    principal = local_principal(request)
    if principal is None:
        headers: Mapping[str, str] = request.headers
        token = subprotocol_token(request.headers.get("Sec-WebSocket-Protocol", ""))
        if token and "Authorization" not in request.headers:
            # Browsers cannot set headers on a websocket: the token rides as a subprotocol.
            headers = {**request.headers, "Authorization": f"Bearer {token}"}
        try:
            principal = authenticate(ctx.store, headers, request.cookies)
        except AuthFailed as e:
            raise Unauthenticated(e.message, code=e.code) from None
    if principal is None:
        raise Unauthenticated("log in, or send 'Authorization: Bearer <token>'")
    if principal.role < route.role:
        raise Forbidden(
            f"this needs the {route.role.label} role; you are {principal.role.label}",
            required=route.role.label,
        )
    if route.mutating and principal.via == "session":
        sent = request.headers.get(CSRF_HEADER, "")
        if not principal.csrf or not hmac.compare_digest(sent, principal.csrf):
            raise Forbidden(
                f"cookie-authenticated writes need the {CSRF_HEADER} header from login",
                code="csrf_failed",
            )
    return principal


def _convert(name: str, raw: str, schema: dict[str, Any]) -> Any:
    t = schema.get("type")
    try:
        if t == "integer":
            return int(raw)
        if t == "number":
            return float(raw)
    except ValueError:
        raise ValidationFailed(
            f"query parameter {name!r} must be a {t}", errors=[{"path": name, "problem": t}]
        ) from None
    if t == "boolean":
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ValidationFailed(f"query parameter {name!r} must be true or false")
    return raw


def parse_query(route: Route, query: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in query:
        if name not in route.query:
            raise BadRequest(
                f"unknown query parameter {name!r}",
                code="unknown_parameter",
                allowed=", ".join(sorted(route.query)),
            )
    for name, schema in route.query.items():
        if name not in query:
            if "default" in schema:
                out[name] = schema["default"]
            continue
        value = _convert(name, str(query.getone(name)), schema)
        problems = validate(schema, value)
        if problems:
            raise ValidationFailed(
                f"query parameter {name!r} {problems[0]['problem']}",
                errors=[dict(p, path=name) for p in problems],
            )
        out[name] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_json(raw: bytes) -> Any:
    """A request body's JSON, or BadRequest: bytes that are not UTF-8, JSON that is
    not valid, nested too deep, an integer too long to convert, NaN or Infinity
    (which strict JSON does not have) are the client's mistake, never a 500."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(
            f"the body is not valid UTF-8 (byte {e.start})", code="invalid_encoding"
        ) from None
    if not text.strip():
        return {}  # actions with optional fields may be posted empty
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BadRequest(f"the body is not valid JSON: {e.msg}", code="invalid_json") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply", code="invalid_json") from None
    except ValueError as e:  # NaN/Infinity, or an integer beyond Python's digit limit
        raise BadRequest(f"the body is not valid JSON: {e}", code="invalid_json") from None


async def parse_body(route: Route, request: web.Request) -> Any:
    if route.consumes != "application/json":
        return None  # a raw upload: the handler streams it (never held in memory here)
    raw = await request.read() if request.can_read_body else b""
    if route.body is None:
        if raw.strip():
            raise BadRequest("this operation takes no request body", code="unexpected_body")
        return None
    body = decode_json(raw)
    problems = validate(route.body, body)
    if problems:
        first = problems[0]
        raise ValidationFailed(f"{first['path']}: {first['problem']}", errors=problems)
    return body


def to_response(result: HandlerResult, route: Route, ctx: PeerContext) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    reply = result if isinstance(result, Reply) else Reply(body=result, status=route.status)
    headers = dict(reply.headers)
    headers[REVISION_HEADER] = str(
        reply.revision if reply.revision is not None else ctx.store.revision
    )
    if reply.version is not None:
        headers["ETag"] = f'"{reply.version}"'
    if reply.status == 204 or (reply.body is None and reply.status < 300):
        return web.Response(status=204, headers=headers)
    return web.json_response(reply.body, status=reply.status, headers=headers)


async def _audit_alone(
    ctx: PeerContext,
    req: ApiRequest | None,
    principal: Principal,
    request: web.Request,
    route: Route,
    code: str,
) -> None:
    """Best effort: a failed call is audited in its own commit; if even that
    cannot commit (no quorum) the failure is logged here instead."""
    rid = request.match_info.get(route.path_params[0]) if route.path_params else None
    value = audit_value(
        principal.user, f"{route.method} {request.path}", rid or route.tag, request.remote, code
    )
    try:
        await ctx.store.commit(audit_ops(ctx.store, value), timeout=2.0)
    except StoreError as e:
        log.warning("audit record not committed (%s): %s", e.code, value)
    if req is not None:
        req.audited = True


def make_handler(route: Route) -> AiohttpHandler:
    """The aiohttp handler that enforces ``route``'s declaration."""

    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CTX_KEY]
        principal = Principal(user=ANONYMOUS_USER, role=Role.VIEWER, via="anonymous")
        req: ApiRequest | None = None
        started = time.monotonic()
        try:
            principal = _authorize(request, route, ctx)
            if principal.via != "anonymous" and MIN_REVISION_HEADER in request.headers:
                # Only after authentication, so a stranger cannot park requests
                # here; then again, against the state caught up with (a token
                # revoked at that revision is refused).
                await wait_min_revision(request, ctx)
                principal = _authorize(request, route, ctx)
            req = ApiRequest(
                ctx=ctx,
                http=request,
                route=route,
                principal=principal,
                params=dict(request.match_info),
                query=parse_query(route, request.query),
                body=await parse_body(route, request),
                remote=request.remote,
                deadline=parse_deadline(request.headers.get(DEADLINE_HEADER), started),
            )
            result = await route.handler(req)
        except (ApiError, StoreError) as e:
            err = from_store_error(e) if isinstance(e, StoreError) else e
            if principal.via == "anonymous":
                # Unauthenticated: this peer's log only, never the replicated state.
                if req is None or not req.audited:
                    log_unauthenticated(route.method, request.path, request.remote, err.code)
            elif route.mutating and (req is None or not req.audited):
                await _audit_alone(ctx, req, principal, request, route, err.code)
            raise err from None
        if route.mutating and req is not None and not req.audited and principal.via != "anonymous":
            await _audit_alone(ctx, req, principal, request, route, "ok")
        log.debug(
            "%s %s by %s in %.1f ms",
            route.method,
            request.path,
            principal.user,
            (time.monotonic() - started) * 1000,
        )
        return to_response(result, route, ctx)

    handle.__name__ = route.operation_id
    return handle
