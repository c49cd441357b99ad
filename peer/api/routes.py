"""Declaring API routes: one declaration is the handler, its checks and its docs.

A module makes a ``Routes`` table and decorates its handlers::

    routes = Routes(tag="vms")

    @routes.post("/vms", role=Role.OPERATOR, summary="Create a VM",
                 body=VM_CREATE, response=VM, status=201)
    async def create_vm(req: ApiRequest) -> Reply:
        ...

The guard (peer/api/guard.py) enforces what is declared — authentication, the
role, CSRF, the body and query schemas, the audit record — before the handler
runs, and the OpenAPI document (peer/api/openapi.py) is generated from the same
declarations, so the two cannot drift.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from peer.api.errors import (
    ApiError,
    BadRequest,
    ConflictError,
    PreconditionFailed,
    Unavailable,
    from_store_error,
)
from peer.api.schema import Schema, closed
from peer.auth.audit import audit_ops, audit_value
from peer.auth.principal import Principal
from peer.auth.roles import Role
from peer.context import PeerContext
from peer.events.log import event_ops, event_value
from raft.errors import Conflict, StoreError
from raft.store import Store

API_PREFIX = "/api/v1"


@dataclass
class Reply:
    """What a handler returns: a JSON body, a status, headers. ``version`` sets the
    ETag; ``revision`` overrides the ``X-Quantix-Revision`` header."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    revision: int | None = None


HandlerResult = Reply | web.StreamResponse | dict[str, Any] | list[Any] | None
Handler = Callable[["ApiRequest"], Awaitable[HandlerResult]]


@dataclass(frozen=True)
class Route:
    """One declared operation. ``role=None`` means open to anyone (health, login)."""

    method: str
    path: str
    handler: Handler
    summary: str
    role: Role | None
    tag: str
    body: Schema | None = None
    response: Schema | None = None
    query: dict[str, Schema] = field(default_factory=dict)
    status: int = 200
    # Other success statuses with the same body (e.g. 200 when a create finds the
    # resource already there), declared so the OpenAPI document tells the truth.
    also: tuple[int, ...] = ()
    # "json" (default), or the content type of a raw response (HTML, metrics,
    # websocket upgrade) that the handler builds itself.
    produces: str = "application/json"
    # The request body's type: JSON (validated against ``body``), or a raw type
    # (an upload) that the handler streams from ``req.http.content`` itself.
    consumes: str = "application/json"
    description: str = ""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def mutating(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


class Routes:
    """A table of route declarations from one module (paths relative to ``prefix``)."""

    def __init__(self, tag: str, prefix: str = API_PREFIX) -> None:
        self.tag = tag
        self.prefix = prefix
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        role: Role | None,
        summary: str,
        body: Schema | None = None,
        response: Schema | None = None,
        query: dict[str, Schema] | None = None,
        status: int = 200,
        also: tuple[int, ...] = (),
        produces: str = "application/json",
        consumes: str = "application/json",
        description: str = "",
    ) -> Callable[[Handler], Handler]:
        """Register the decorated handler; schemas are checked here, at import."""

        def deco(fn: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method,
                    path=self.prefix + path,
                    handler=fn,
                    summary=summary,
                    role=role,
                    tag=self.tag,
                    body=closed(body) if body is not None else None,
                    response=closed(response, close_objects=False) if response else None,
                    query={k: closed(v) for k, v in (query or {}).items()},
                    status=status,
                    also=also,
                    produces=produces,
                    consumes=consumes,
                    description=description or (fn.__doc__ or "").strip(),
                )
            )
            return fn

        return deco

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, **kw)


# The caller's own deadline, in seconds from when the request arrives: nothing of
# the request is committed (or retried) after it. Clients that give up after T
# seconds send T; without it a commit waits up to COMMIT_TIMEOUT_S.
DEADLINE_HEADER = "X-Request-Timeout"
COMMIT_TIMEOUT_S = 5.0
MAX_DEADLINE_S = 3600.0


def parse_deadline(raw: str | None, arrived: float) -> float | None:
    """``time.monotonic()`` by which the caller gives up, from ``X-Request-Timeout``."""
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_DEADLINE_S:
        raise BadRequest(
            f"{DEADLINE_HEADER} must be seconds in (0, {MAX_DEADLINE_S:g}], not {raw!r}",
            code="bad_deadline",
        )
    return arrived + seconds


@dataclass
class ApiRequest:
    """What a handler gets: the peer context, the caller, validated input."""

    ctx: PeerContext
    http: web.Request
    route: Route
    principal: Principal
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    remote: str | None
    # Set once an audit record went into a successful commit of this request.
    audited: bool = False
    # time.monotonic() by which the caller gives up (X-Request-Timeout), or None.
    deadline: float | None = None

    def commit_timeout(self) -> float:
        """How long the next commit of this request may take: COMMIT_TIMEOUT_S cut
        to the caller's deadline. 503 ``deadline_exceeded`` once that has passed
        or the caller has hung up: what it gave up on is not done behind its back
        (a write retried after a heal over a newer, acknowledged one)."""
        timeout = COMMIT_TIMEOUT_S
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
        transport = self.http.transport
        if timeout <= 0 or transport is None or transport.is_closing():
            raise Unavailable(
                "the request's deadline passed before it was done; nothing more of it "
                "will be committed",
                code="deadline_exceeded",
            )
        return timeout

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def user(self) -> str:
        return self.principal.user

    def if_match(self) -> int | None:
        """The version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``), or None."""
        raw = self.http.headers.get("If-Match")
        if raw is None or raw.strip() == "*":
            return None
        tag = raw.strip().removeprefix("W/").strip('"')
        try:
            return int(tag)
        except ValueError:
            raise PreconditionFailed(f"If-Match {raw!r} is not a version this API issued") from None

    def check_if_match(self, current: int) -> int:
        """412 unless ``If-Match`` (when given) names ``current``; return the version
        to compare-and-set on, so a racing writer between read and commit loses."""
        want = self.if_match()
        if want is not None and want != current:
            raise PreconditionFailed(
                f"the resource is at version {current}, not {want}", current=current
            )
        return current

    async def commit(
        self,
        ops: Sequence[dict[str, Any]],
        *,
        event: tuple[str, str, str, str] | None = None,
        level: str = "info",
        audit_result: str = "ok",
    ) -> dict[str, Any]:
        """Commit ``ops`` with this call's audit record and (optionally) an event
        ``(kind, resource, id, message)`` in one transaction; answer once committed.

        ``audit_result`` records a refused call that still commits (a failed login).
        A lost compare-and-set becomes 412 when the caller sent ``If-Match``
        (their version is stale) and 409 otherwise.
        """
        all_ops = list(ops)
        if event is not None:
            kind, resource, rid, message = event
            all_ops += event_ops(
                self.store,
                event_value(
                    kind, resource, rid, message, node=self.ctx.node_id, level=level, user=self.user
                ),
            )
        if self.route.mutating:
            target = self.params.get(self.route.path_params[0]) if self.route.path_params else None
            all_ops += audit_ops(
                self.store,
                audit_value(
                    self.user, self.action, target or self.route.tag, self.remote, audit_result
                ),
            )
        try:
            res = await self.store.commit(all_ops, timeout=self.commit_timeout())
        except Conflict as e:
            if self.http.headers.get("If-Match"):
                raise PreconditionFailed(
                    "the resource changed since you read it", **_scalar(e.details)
                ) from None
            raise ConflictError(e.message, **_scalar(e.details)) from None
        except StoreError as e:
            raise from_store_error(e) from None
        if self.route.mutating:
            self.audited = True
        return res

    @property
    def action(self) -> str:
        return f"{self.route.method} {self.http.path}"


def _scalar(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if isinstance(v, (str, int, float, bool, type(None)))}


__all__ = ["API_PREFIX", "ApiError", "ApiRequest", "Handler", "Reply", "Route", "Routes"]
