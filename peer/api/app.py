"""``build_app(ctx)``: the aiohttp application every peer serves.

The daemon serves the same app on HTTPS and, for the console, on a local unix
socket (see ``guard.local_principal`` for the socket rule)::

    app = build_app(ctx)
    runner = web.AppRunner(app); await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=ssl_ctx).start()
    await web.UnixSite(runner, str(sock_path)).start(); os.chmod(sock_path, 0o600)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from peer.api.guard import make_handler
from peer.api.keys import CTX_KEY, METRICS_KEY, OPENAPI_KEY, ROUTES_KEY, STREAMS_KEY
from peer.api.middleware import error_middleware, metrics_middleware
from peer.api.openapi import build_openapi
from peer.api.routes import Route, Routes
from peer.context import PeerContext
from peer.metrics import ApiMetrics

# Resource modules, each exporting ``routes`` (and maybe ``root_routes``).
RESOURCE_MODULES = (
    "peer.api.resources.meta",
    "peer.api.resources.auth",
    "peer.api.resources.users",
    "peer.api.resources.tokens",
    "peer.api.resources.cluster",
    "peer.api.resources.certificates",
    "peer.api.resources.nodes",
    "peer.api.resources.vms",
    "peer.api.resources.vm_actions",
    "peer.api.resources.vm_agent",
    "peer.api.resources.storage",
    "peer.api.resources.image_upload",
    "peer.api.resources.networks",
    "peer.api.resources.secgroups",
    "peer.api.resources.tasks",
    "peer.api.resources.events",
    "peer.api.resources.audit",
)

MAX_BODY = 1024 * 1024
# aiohttp refuses longer request lines and headers itself, in plain text before
# any middleware; these limits let a long (percent-encoded) query reach the
# schema checks, which answer JSON.
HANDLER_ARGS = {"max_line_size": 32768, "max_field_size": 16384}


def builtin_routes() -> list[Route]:
    out: list[Route] = []
    for name in RESOURCE_MODULES:
        # A module that does not import is a start-up error, never a resource
        # silently missing from the API.
        mod = importlib.import_module(name)
        for attr in ("routes", "root_routes"):
            table = getattr(mod, attr, None)
            if isinstance(table, Routes):
                out.extend(table.routes)
    return out


def all_routes(extra: Iterable[Routes] = ()) -> list[Route]:
    routes = builtin_routes()
    for table in extra:
        routes.extend(table.routes)
    seen: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for r in routes:
        key = (r.method, r.path)
        if key in seen:
            raise ValueError(f"{r.method} {r.path} declared twice ({seen[key]}, {r.operation_id})")
        if r.operation_id in ids:
            raise ValueError(f"operation id {r.operation_id!r} used twice")
        seen[key] = r.operation_id
        ids.add(r.operation_id)
    return routes


async def _close_streams(app: web.Application) -> None:
    streams: set[Any] = app[STREAMS_KEY]
    for ws in list(streams):
        await ws.close()


def build_app(ctx: PeerContext, extra_routes: Sequence[Routes] = ()) -> web.Application:
    """The API application for this peer. ``extra_routes``: tables declared by
    other parts (e.g. the join endpoints), enforced and documented the same way."""
    app = web.Application(
        middlewares=[metrics_middleware, error_middleware],
        client_max_size=MAX_BODY,
        handler_args=HANDLER_ARGS,
    )
    routes = all_routes(extra_routes)
    app[CTX_KEY] = ctx
    app[ROUTES_KEY] = routes
    app[METRICS_KEY] = ApiMetrics(ctx)
    app[OPENAPI_KEY] = build_openapi(routes)
    app[STREAMS_KEY] = set()
    for r in routes:
        app.router.add_route(r.method, r.path, make_handler(r), name=r.operation_id)
    app.on_shutdown.append(_close_streams)
    return app
