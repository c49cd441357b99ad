"""A VM's graphical console as a websocket, from any peer.

``GET /api/v1/vms/{id}/console`` with ``Upgrade: websocket`` (noVNC's binary
subprotocol) relays raw RFB bytes. The peer that hosts the VM relays to the VM's
VNC unix socket; any other peer relays to the hosting peer's same endpoint,
forwarding the caller's own credentials (bearer token, or the session cookie),
so the hosting peer checks the same user again and no peer-to-peer trust is
added; the hosting peer must show the certificate of its node record.
Browsers cannot set headers on a websocket, so a token may come as the
subprotocol ``qx-token.<token>`` (the API's guard accepts it); a session cookie
is honoured only from the same origin (cross-site websocket hijacking).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import WSMsgType, web

from peer.api.errors import ApiError, ConflictError, Forbidden, Unavailable
from peer.api.guard import subprotocol_token
from peer.api.routes import ApiRequest
from peer.forward import FORWARDED_HEADER, peer_origin
from peer.peertls import mismatch

log = logging.getLogger("peer.vmconsole")

VNC_SUBPROTOCOL = "binary"  # what noVNC offers
CHUNK = 64 * 1024


def is_websocket(req: ApiRequest) -> bool:
    return req.http.headers.get("Upgrade", "").lower() == "websocket"


async def console_websocket(req: ApiRequest, vm_id: str) -> web.StreamResponse:
    """Relay the VM's console (here or through the hosting peer)."""
    http = req.http
    if req.principal.via == "session":
        origin = http.headers.get("Origin")
        if origin and urlsplit(origin).netloc != http.host:
            raise Forbidden("a cookie-authenticated console must come from the same origin")
    st = req.store.get("vm_status", vm_id)
    console = (st.value.get("console") or {}) if st is not None else {}
    node = st.value.get("node") if st is not None else None
    if st is None or not console.get("vnc_socket") or st.value.get("state") != "running":
        raise ConflictError("the VM has no console: is it running?", code="no_console")
    if node == req.ctx.node_id:
        try:
            reader, writer = await asyncio.open_unix_connection(str(console["vnc_socket"]))
        except OSError as e:
            raise Unavailable(f"cannot reach the VM's VNC socket: {e}") from None
        ws = await _prepare(http)

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        try:
            await _relay(ws, reader.read, send)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return ws
    if http.headers.get(FORWARDED_HEADER):
        # Never relay twice: the state we were asked under has moved on.
        raise ConflictError(f"the VM runs on {node}, not here", code="wrong_host")
    return await _forward(req, vm_id, str(node))


async def _forward(req: ApiRequest, vm_id: str, node: str) -> web.StreamResponse:
    origin, pin = peer_origin(req, node, "the VM")
    url = f"{origin}/api/v1/vms/{vm_id}/console"
    http = req.http
    headers = {FORWARDED_HEADER: req.ctx.node_id}
    token = subprotocol_token(http.headers.get("Sec-WebSocket-Protocol", ""))
    if http.headers.get("Authorization"):
        headers["Authorization"] = http.headers["Authorization"]
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    elif http.headers.get("Cookie") and req.principal.via == "session":
        headers["Cookie"] = http.headers["Cookie"]
        headers["Origin"] = origin
    else:
        raise ConflictError(
            f"the VM runs on {node}: connect there (local credentials cannot be forwarded)",
            code="wrong_host",
        )
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pin))
    try:
        upstream = await session.ws_connect(
            url, headers=headers, protocols=(VNC_SUBPROTOCOL,), max_msg_size=4 * 1024 * 1024
        )
    except aiohttp.WSServerHandshakeError as e:
        await session.close()
        raise ApiError(f"the VM's host refused the console: {e.message}", code="console_refused",
                       status=502 if e.status >= 500 else 409) from None  # fmt: skip
    except aiohttp.ServerFingerprintMismatch:
        await session.close()
        raise mismatch(node, "the VM") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        await session.close()
        raise Unavailable(f"cannot reach the VM's host {node}: {e}") from None
    ws = await _prepare(http)

    async def read(_n: int) -> bytes:
        msg = await upstream.receive()
        return msg.data if msg.type == WSMsgType.BINARY else b""

    try:
        await _relay(ws, read, upstream.send_bytes)
    finally:
        await upstream.close()
        await session.close()
    return ws


async def _prepare(http: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=(VNC_SUBPROTOCOL,), max_msg_size=4 * 1024 * 1024)
    await ws.prepare(http)
    return ws


async def _relay(
    ws: web.WebSocketResponse,
    read: Callable[[int], Awaitable[bytes]],
    send: Callable[[bytes], Awaitable[None]],
) -> None:
    """Pump bytes both ways until either side closes."""

    async def downstream() -> None:
        while data := await read(CHUNK):
            await ws.send_bytes(data)
        await ws.close()

    pump = asyncio.create_task(downstream())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await send(msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await pump
