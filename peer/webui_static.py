"""Serves the built web UI (``webui/dist``) at ``/`` on every peer.

- ``/assets/*``: content-hashed files, cached for a year (``immutable``).
- Any other GET that is not the API (``/api/``, ``/metrics``): a file from
  ``dist`` if one exists, else ``index.html`` (client-side routes such as
  ``/vms/abc`` survive a reload). ``index.html`` is never cached, so a new build
  is picked up at the next load.
- No build yet: a small page saying how to build it (status 503), so a peer
  started from a fresh checkout still explains itself.

Mount with ``add_webui(app)`` after ``build_app``; the API's routes take
precedence because they are registered first and are more specific.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

DIST_ENV = "QUANTIX_WEBUI_DIST"
DEFAULT_DIST = Path(__file__).resolve().parent.parent / "webui" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Paths the UI must never shadow, even with an index.html fallback.
RESERVED = ("/api/", "/metrics")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quantix</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:15vh auto;padding:0 1rem;
color:#18181b}code{background:#f4f4f5;padding:.1rem .3rem;border-radius:.25rem}</style></head>
<body><h1>The web UI has not been built</h1>
<p>The web UI has not been built: run <code>make lab</code> or <code>make test</code>
(or <code>cd webui &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload.</p>
<p>The REST API is up: <a href="/api/v1/docs">/api/v1/docs</a>.</p></body></html>
"""


def dist_dir() -> Path:
    """Where the build is: ``$QUANTIX_WEBUI_DIST`` or ``<repo>/webui/dist``."""
    return Path(os.environ.get(DIST_ENV) or DEFAULT_DIST)


def _file_in(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a regular file inside ``root`` (no ``..`` escapes)."""
    try:
        path = (root / rel.lstrip("/")).resolve()
        path.relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return path if path.is_file() else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_handler(root: Path) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(RESERVED):
            raise web.HTTPNotFound()
        index = root / "index.html"
        if not index.is_file():
            return web.Response(
                text=NOT_BUILT, status=503, content_type="text/html", headers=SECURITY_HEADERS
            )
        found = _file_in(root, path) if path != "/" else None
        if found is None:
            if path.startswith("/assets/"):
                raise web.HTTPNotFound()  # a stale hashed name: not the SPA shell
            found = index
        cache = IMMUTABLE if path.startswith("/assets/") else NO_CACHE
        return web.FileResponse(found, headers={"Cache-Control": cache, **SECURITY_HEADERS})

    return serve


def add_webui(app: web.Application, root: Path | None = None) -> None:
    """Serve the UI from ``root`` (default: ``dist_dir()``) for every GET the API
    does not claim. Call after the API routes are added."""
    handler = make_handler(root or dist_dir())
    app.router.add_route("GET", "/", handler, name="webui_root")
    app.router.add_route("GET", "/{tail:.*}", handler, name="webui")
