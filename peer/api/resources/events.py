"""Events: list them, or stream them live over a websocket from any peer."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from peer.api.errors import ApiError, BadRequest, Forbidden
from peer.api.keys import STREAMS_KEY
from peer.api.resources.common import LIST_QUERY, list_schema, maybe_barrier, page, record_schema
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.events.stream import Backlogged, event_view, follow
from raft.commands import Record

routes = Routes(tag="events")

# Open streams on one peer: per user, and in all.
MAX_STREAMS_PER_USER = 8
MAX_STREAMS = 256
# Events waiting for one slow client, and how long one send may take.
MAX_BACKLOG = 1000
SEND_TIMEOUT_S = 10.0

EVENT = record_schema(
    {
        "ts": {"type": "number"},
        "kind": {"type": "string"},
        "resource": {"type": "string"},
        "resource_id": {"type": ["string", "null"]},
        "node": {"type": ["string", "null"]},
        "message": {"type": "string"},
        "level": {"type": "string", "enum": ["info", "warning", "error"]},
        "user": {"type": ["string", "null"]},
    },
    required=["ts", "kind", "message"],
)
FILTERS = {
    "kind": {"type": "string", "maxLength": 100},
    "resource": {"type": "string", "maxLength": 100},
    "level": {"type": "string", "enum": ["info", "warning", "error"]},
}


def _view(key: str, value: dict) -> dict:  # type: ignore[type-arg]
    v = event_view(key, value, 0)
    v.pop("id")
    v.pop("revision")
    return v


@routes.get(
    "/events",
    role=Role.VIEWER,
    summary="List events, newest first",
    query={**LIST_QUERY, **FILTERS},
    response=list_schema(EVENT),
)
async def list_events(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    want = {k: req.query[k] for k in FILTERS if req.query.get(k) is not None}

    def keep(r: Record) -> bool:
        return all(r.value.get(k) == v for k, v in want.items())

    return page(req, req.store.scan("events"), keep=keep, transform=_view, reverse=True)


@routes.get(
    "/events/stream",
    role=Role.VIEWER,
    status=101,
    produces="websocket",
    summary="Stream events over a websocket (resume with from_revision)",
    query={
        "from_revision": {"type": "integer", "minimum": 0},
        "kind": {"type": "string", "maxLength": 100},
    },
)
async def stream_events(req: ApiRequest) -> web.StreamResponse:
    """Each message is one event as JSON, with its ``revision``. Keep the last
    revision you saw and reconnect with ``?from_revision=<it>`` to miss nothing."""
    origin = req.http.headers.get("Origin")
    if req.principal.via == "session" and origin and urlsplit(origin).netloc != req.http.host:
        # Cross-site websocket hijacking: a cookie rides along on any origin's
        # upgrade request, so a cookie-authenticated stream must be same-origin.
        raise Forbidden("the event stream is same-origin only", code="bad_origin")
    ws = web.WebSocketResponse(heartbeat=30)
    if not ws.can_prepare(req.http).ok:
        raise BadRequest("this endpoint needs a websocket upgrade", code="websocket_required")
    streams = req.http.app[STREAMS_KEY]
    per_user = req.ctx.services.setdefault("event_streams", {})
    user = req.principal.user
    if per_user.get(user, 0) >= MAX_STREAMS_PER_USER or len(streams) >= MAX_STREAMS:
        err = ApiError(
            f"too many open event streams (at most {MAX_STREAMS_PER_USER} per user on a peer)",
            code="too_many_streams",
            retry_after=5,
        )
        err.status = 429
        raise err
    kinds = frozenset([req.query["kind"]]) if req.query.get("kind") else None
    events = follow(req.store, req.query.get("from_revision"), kinds, max_backlog=MAX_BACKLOG)
    await ws.prepare(req.http)
    streams.add(ws)
    per_user[user] = per_user.get(user, 0) + 1

    async def pump() -> None:
        try:
            async for ev in events:
                # A client that does not read cannot make this peer queue its events
                # without bound: too slow, and the stream ends (it resumes with
                # from_revision, losing nothing the table still holds).
                await asyncio.wait_for(ws.send_json(ev), SEND_TIMEOUT_S)
        except (TimeoutError, Backlogged):
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow: resume")

    sender = asyncio.create_task(pump())
    try:
        # Reading is how a close from the client is noticed.
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        await events.aclose()
        streams.discard(ws)
        per_user[user] -= 1
        if per_user[user] <= 0:
            del per_user[user]
    return ws
