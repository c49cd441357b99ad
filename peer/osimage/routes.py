"""``/host/os``: this host's Quantix-OS slots, and installing an update bundle.

``POST /host/os/update`` takes the bundle as the raw body (admin). It is streamed
to the data partition, then verified and written to the inactive slot
(``apply.py``); a bundle that does not verify is 422 ``invalid_bundle`` and
changes nothing. With ``?reboot=true`` (the default) the host reboots a second
after answering, into the new slot on trial (docs/os.md). On a host that is not
Quantix-OS (the lab) it is refused: 409 ``not_quantix_os``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from peer.api.errors import ApiError, ConflictError, NotFound
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.forward import check_forwardable, forwarded_headers, relay
from peer.hostmgmt import system
from peer.osimage import apply, bundle, slots
from peer.upload_sink import UploadRefused, UploadSink

routes = Routes(tag="host")
MAX_BUNDLE = 1024**3
CHUNK = 1024 * 1024

OS_STATUS = {"type": "object", "properties": {"os": {"type": "boolean"}}}
APPLIED = {
    "type": "object",
    "properties": {
        "version": {"type": "string"},
        "slot": {"type": "string"},
        "entry": {"type": "string"},
        "reboot": {"type": "string"},
    },
}


NODE = {"node": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}
PASS = ("Authorization", "Cookie", "X-CSRF-Token", "Content-Type", "Content-Length")


@routes.get(
    "/host/os",
    role=Role.VIEWER,
    summary="A host's OS: slot, version, boot entries (this host, or ?node=)",
    query=NODE,
    response=OS_STATUS,
)
async def host_os(req: ApiRequest) -> Reply | web.Response:
    node = req.query.get("node")
    if node and node != req.ctx.node_id:
        return await _forward(req, str(node), None)
    return Reply(await asyncio.to_thread(slots.status))


@routes.post(
    "/host/os/update",
    role=Role.ADMIN,
    summary="Install an update bundle (raw body) in the inactive slot",
    consumes="application/octet-stream",
    query={"reboot": {"type": "string", "enum": ["true", "false"]}, **NODE},
    response=APPLIED,
    status=202,
)
async def host_os_update(req: ApiRequest) -> Reply | web.Response:
    """``?node=`` sends the bundle to that host (as the caller: it checks the
    caller's credentials itself)."""
    node = req.query.get("node")
    if node and node != req.ctx.node_id:

        async def body() -> AsyncIterator[bytes]:
            async for chunk in req.http.content.iter_chunked(CHUNK):
                yield chunk

        return await _forward(req, str(node), body())
    if slots.running_slot() is None:
        raise ConflictError("this host does not run Quantix-OS", code="not_quantix_os")
    incoming = Path(req.ctx.config.data_dir) / "os" / "incoming.bundle"
    await _receive(req, incoming)
    try:
        done = await asyncio.to_thread(_apply_file, incoming)
    finally:
        await asyncio.to_thread(incoming.unlink, True)
    how = "no"
    if req.query.get("reboot", "true") == "true":
        mode = system.actions_mode(req.ctx.config.libvirt_uri)
        how = "in 1 s" if mode == "system" else "recorded"
        asyncio.get_running_loop().call_later(1.0, _reboot, mode)
    return Reply(
        {"version": done.version, "slot": done.slot, "entry": done.entry, "reboot": how},
        status=202,
    )


async def _forward(req: ApiRequest, node: str, data: AsyncIterator[bytes] | None) -> web.Response:
    if req.store.get("nodes", node) is None:
        raise NotFound(f"no host {node}", code="node_not_found")
    check_forwardable(req, node, "this host OS")
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)
    return await relay(req, node, "this host OS", forwarded_headers(req, PASS), data, timeout)


def _apply_file(path: Path) -> apply.Applied:
    try:
        with open(path, "rb") as f:
            return apply.apply(f)
    except bundle.BundleError as e:
        err = ApiError(str(e), code="invalid_bundle")
        err.status = 422
        raise err from None
    except (apply.ApplyError, OSError) as e:
        raise ConflictError(f"cannot install the update: {e}", code="os_update_failed") from None


def _reboot(mode: str) -> None:
    with contextlib.suppress(Exception):
        system.power("reboot", mode)


async def _receive(req: ApiRequest, final: Path) -> None:
    try:
        sink = await asyncio.to_thread(UploadSink, final, MAX_BUNDLE)
    except OSError as e:
        raise ConflictError(f"cannot store the bundle: {e.strerror}", code="write_failed") from None
    try:
        async for chunk in req.http.content.iter_chunked(CHUNK):
            await asyncio.to_thread(sink.write, chunk)
        await asyncio.to_thread(sink.finish, None)
    except UploadRefused as e:
        await asyncio.to_thread(sink.abort)
        err = ApiError(e.message, code=e.code)
        err.status = e.status
        raise err from None
    except (aiohttp.ClientPayloadError, ConnectionError):
        await asyncio.to_thread(sink.abort)
        raise ApiError("the upload was cut short", code="incomplete_upload") from None
