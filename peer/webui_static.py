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

It also serves the browser console of the VMs *this* peer hosts:
``GET /webui/vnc/{vm_id}`` (websocket) relays bytes to the VM's VNC unix socket
for noVNC. The API names the hosting peer (``GET /api/v1/vms/{id}/console``) and
the browser connects to that peer directly. Credentials: an API token offered as
the websocket subprotocol ``qx-token.<token>`` (a browser cannot set headers on
a websocket), or a session cookie from the same origin only (cross-site
websocket hijacking). Least role: operator, like the console route of the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from peer.api.keys import CTX_KEY, STREAMS_KEY
from peer.auth.authenticate import AuthFailed, authenticate
from peer.auth.roles import Role

DIST_ENV = "QUANTIX_WEBUI_DIST"
DEFAULT_DIST = Path(__file__).resolve().parent.parent / "webui" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Paths the UI must never shadow, even with an index.html fallback.
RESERVED = ("/api/", "/metrics", "/webui/")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# A strict Content-Security-Policy: no inline script or style, nothing from
# elsewhere except the cluster's own peers (a VM's console is served by the peer
# that hosts it; when this peer stops answering the page probes the others). A
# script injected into the page can neither run nor send what it reads away.
CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; connect-src 'self'"
)
# The page shown before a build has one inline style and nothing else.
CSP_NOT_BUILT = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def content_security_policy(request: web.Request) -> str:
    """CSP_BASE, with the members (``https://`` and ``wss://address:port``) allowed."""
    ctx = request.app.get(CTX_KEY)
    peers = []
    if ctx is not None:
        for r in ctx.store.scan("nodes"):
            addr, port = r.value.get("address"), r.value.get("api_port")
            if isinstance(port, int) and _ipv4(addr):
                # The console websocket of a VM's host, and the failover's probe
                # of another member when this one stops answering.
                peers += [f"https://{addr}:{port}", f"wss://{addr}:{port}"]
    return " ".join([CSP_BASE, *sorted(set(peers))])


def _ipv4(addr: object) -> bool:
    try:
        ipaddress.IPv4Address(str(addr))
    except ValueError:
        return False
    return True


NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quantix</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:15vh auto;padding:0 1rem;
color:#18181b}code{background:#f4f4f5;padding:.1rem .3rem;border-radius:.25rem}</style></head>
<body><h1>Quantix</h1>
<p>The web UI has not been built: run <code>make lab</code> or <code>make test</code>
(or <code>cd webui &amp;&amp; npm ci &amp;&amp; npm run build</code>), then reload.</p>
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
            headers = {**SECURITY_HEADERS, "Content-Security-Policy": CSP_NOT_BUILT}
            return web.Response(
                text=NOT_BUILT, status=503, content_type="text/html", headers=headers
            )
        found = _file_in(root, path) if path != "/" else None
        if found is None:
            if path.startswith("/assets/"):
                raise web.HTTPNotFound()  # a stale hashed name: not the SPA shell
            found = index
        cache = IMMUTABLE if path.startswith("/assets/") else NO_CACHE
        headers = {"Cache-Control": cache, **SECURITY_HEADERS}
        if found == index:
            headers["Content-Security-Policy"] = content_security_policy(request)
        return web.FileResponse(found, headers=headers)

    return serve


AUTH_SUBPROTOCOL = "qx-token."
VNC_PROTOCOL = "binary"  # what noVNC offers
CHUNK = 64 * 1024


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "details": {}}, status=status)


def _offered(request: web.Request) -> list[str]:
    raw = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip().startswith(AUTH_SUBPROTOCOL)]


async def vnc_proxy(request: web.Request) -> web.StreamResponse:
    """Relay a websocket to the VNC socket of a VM running on this peer."""
    ctx = request.app[CTX_KEY]
    offered = _offered(request)
    token = next((p.removeprefix(AUTH_SUBPROTOCOL) for p in offered), "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    origin = request.headers.get("Origin")
    same_origin = not origin or urlsplit(origin).netloc == request.host
    cookies = request.cookies if same_origin and not token else {}
    try:
        principal = authenticate(ctx.store, headers, cookies)
    except AuthFailed as e:
        return _json_error(401, e.code, e.message)
    if principal is None:
        return _json_error(401, "unauthenticated", "send a token as the qx-token.* subprotocol")
    if principal.role < Role.OPERATOR:
        return _json_error(403, "forbidden", "the console needs the operator role")
    vm_id = request.match_info["vm_id"]
    st = ctx.store.get("vm_status", vm_id)
    console = (st.value.get("console") or {}) if st is not None else {}
    if st is None or not console.get("vnc_socket"):
        return _json_error(409, "no_console", "the VM has no console yet: is it running?")
    if st.value.get("node") != ctx.node_id:
        return _json_error(409, "wrong_host", f"the VM runs on {st.value.get('node')}")
    try:
        reader, writer = await asyncio.open_unix_connection(str(console["vnc_socket"]))
    except OSError as e:
        return _json_error(503, "console_unavailable", f"cannot reach the VNC socket: {e}")
    ws = web.WebSocketResponse(protocols=(VNC_PROTOCOL,), max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    # Closed by the app on shutdown, like the API's event streams.
    streams = request.app[STREAMS_KEY]
    streams.add(ws)

    async def to_browser() -> None:
        while data := await reader.read(CHUNK):
            await ws.send_bytes(data)
        await ws.close()

    pump = asyncio.create_task(to_browser())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                writer.write(msg.data)
                await writer.drain()
            elif msg.type == WSMsgType.ERROR:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await pump
        streams.discard(ws)
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return ws


def add_webui(app: web.Application, root: Path | None = None) -> None:
    """Serve the UI from ``root`` (default: ``dist_dir()``) for every GET the API
    does not claim, and the VNC relay. Call after the API routes are added."""
    handler = make_handler(root or dist_dir())
    app.router.add_route("GET", "/webui/vnc/{vm_id}", vnc_proxy, name="webui_vnc")
    app.router.add_route("GET", "/", handler, name="webui_root")
    # The API's own paths never reach this route, so its 404s and 405s stay its own.
    app.router.add_route("GET", "/{tail:(?!api/|metrics|webui/).*}", handler, name="webui")
