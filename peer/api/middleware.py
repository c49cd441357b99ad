"""The two middlewares: errors as JSON (never a traceback), and request metrics."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from peer.api.errors import ApiError, Internal, from_store_error
from peer.api.keys import CTX_KEY, METRICS_KEY
from peer.metrics import ApiMetrics
from raft.errors import StoreError

log = logging.getLogger(__name__)

# aiohttp's own HTTP errors (unknown path, wrong method, body too large) keep
# their status and get a stable code.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def error_json(err: ApiError, request: web.Request | None = None) -> web.Response:
    resp = web.json_response(err.to_dict(), status=err.status)
    if request is not None and CTX_KEY in request.app:
        # Refusals can have committed something too (a failed-login counter):
        # the revision lets the client read its effect on another peer.
        resp.headers["X-Quantix-Revision"] = str(request.app[CTX_KEY].store.revision)
    retry = err.details.get("retry_after")
    if isinstance(retry, int):
        resp.headers["Retry-After"] = str(retry)
    return resp


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_json(e, request)
    except StoreError as e:
        return error_json(from_store_error(e), request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        err = ApiError(e.reason or code, code=code)
        err.status = e.status
        resp = error_json(err, request)
        if e.status == 405 and "Allow" in e.headers:
            resp.headers["Allow"] = e.headers["Allow"]
        return resp
    except Exception:
        # A genuine bug: the traceback stays in the server log.
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return error_json(Internal("internal error; the server log has the details"))


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    finally:
        metrics = request.app[METRICS_KEY]
        if isinstance(metrics, ApiMetrics):
            info = request.match_info.route.resource
            # The route template, not the path: bounded label cardinality.
            route = info.canonical if info is not None else "unmatched"
            metrics.observe(request.method, route, status, time.perf_counter() - started)
