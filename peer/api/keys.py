"""Typed keys for what ``build_app`` stores on the aiohttp application."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from peer.context import PeerContext

CTX_KEY = web.AppKey("quantix_ctx", PeerContext)
ROUTES_KEY = web.AppKey("quantix_routes", list)
METRICS_KEY = web.AppKey("quantix_metrics", object)
OPENAPI_KEY = web.AppKey("quantix_openapi", dict)
# Background tasks and open websockets the app must close on shutdown.
STREAMS_KEY = web.AppKey("quantix_streams", set[Any])
