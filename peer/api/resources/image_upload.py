"""Uploading an image's file through the API: ``PUT /images/{id}/content``.

The client first creates the image record (``POST /images`` without ``path`` or
``source_url``: it stays ``pending``), then sends the raw bytes. The peer that
must hold the file (``peer.images.upload_host``) streams them into a temporary
file in the pool directory, hashing as it goes, renames it into place and
commits the record ``ready`` with path, size and sha256. Another peer forwards
the stream to that host with the caller's own credentials. Failures answer 4xx
JSON and leave no file behind; the record then says ``error`` with the reason
so the upload can be tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from peer.api.errors import ApiError, ConflictError
from peer.api.resources.common import get_or_404, one
from peer.api.resources.storage import IMAGE_PROPS
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.forward import check_forwardable, forwarded_headers, relay
from peer.images import upload_host, volume_name
from peer.storage_roots import PathRefused, pool_dir
from peer.upload_sink import UploadRefused, UploadSink
from raft.errors import StoreError
from raft.store import put

routes = Routes(tag="storage")

# A large ISO or disk image; a module constant so that tests can lower it.
MAX_UPLOAD_BYTES = 64 * 1024**3
CHUNK = 1024 * 1024
_PASS_HEADERS = ("Authorization", "Cookie", "X-CSRF-Token", "Content-Type", "Content-Length")
# Uploads this process is receiving: (node id, image id). A claim by this node
# that is not in here was left by a crash and may be taken over.
_ACTIVE: set[tuple[str, str]] = set()

IMAGE = {"type": "object", "properties": {"id": {"type": "string"}, **IMAGE_PROPS}}


def _api_error(e: UploadRefused) -> ApiError:
    err = ApiError(e.message, code=e.code, **e.details)
    err.status = e.status
    return err


def _check_uploadable(req: ApiRequest, image_id: str, v: dict[str, Any]) -> None:
    if v.get("source_url"):
        raise ConflictError("this image is imported from its source_url", code="not_uploadable")
    state = v.get("state")
    if state == "ready":
        raise ConflictError("this image already has its file; delete it first", code="image_ready")
    if state == "uploading":
        node = str(v.get("node"))
        lease = req.store.get("leases", node)
        age = req.store.sm.last_ts - float(lease.value.get("renewed_at", 0)) if lease else 1e9
        mine_alive = node == req.ctx.node_id and (node, image_id) in _ACTIVE
        if mine_alive or (node != req.ctx.node_id and age <= req.ctx.config.fence_after):
            raise ConflictError(f"{node} is receiving this image now", code="upload_in_progress")
    elif state not in ("pending", "error"):
        raise ConflictError(f"the image is {state}", code="not_uploadable")


def _content_length(req: ApiRequest) -> int | None:
    raw = req.http.headers.get("Content-Length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        raise ApiError("Content-Length is not a number", code="bad_header") from None


@routes.put(
    "/images/{image_id}/content",
    role=Role.OPERATOR,
    summary="Upload an image's file (raw body) into its pool",
    consumes="application/octet-stream",
    query={"sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}},
    response=IMAGE,
)
async def upload_image_content(req: ApiRequest) -> Reply | web.Response:
    """The image must be ``pending`` (or ``error``) and not imported from a URL.
    The upload is checked against the record's ``size_bytes`` and ``sha256`` (or
    ``?sha256=``) when they are given: 413 ``too_large``, 400
    ``incomplete_upload``, 422 ``checksum_mismatch``."""
    image_id = req.params["image_id"]
    rec = get_or_404(req, "images", image_id, "image")
    _check_uploadable(req, image_id, rec.value)
    pool = get_or_404(req, "pools", str(rec.value.get("pool")), "pool")
    host = upload_host(req.store, rec.value, req.ctx.node_id)
    if host != req.ctx.node_id:
        return await _forward(req, host)
    declared = rec.value.get("size_bytes")
    length = _content_length(req)
    limit = min(MAX_UPLOAD_BYTES, declared) if isinstance(declared, int) else MAX_UPLOAD_BYTES
    if length is not None and length > limit:
        raise _too_large(length, limit)
    want_sha = req.query.get("sha256") or rec.value.get("sha256")
    declared_sha = str(rec.value.get("sha256") or "").lower()
    if (
        req.query.get("sha256")
        and declared_sha
        and str(req.query["sha256"]).lower() != declared_sha
    ):
        raise ApiError("?sha256 differs from the image's declared sha256", code="checksum_conflict")
    try:  # this host's own roots decide where the pool is, not the record
        where = pool_dir(req.ctx.config.roots, pool.value, pool.key)
    except PathRefused as e:
        raise ConflictError(e.message, code=e.code) from None
    final = where / volume_name(image_id, str(rec.value.get("name", "image")))
    await asyncio.to_thread(_check_space, where, length)

    shared = bool(pool.value.get("shared"))
    claim = dict(rec.value, state="uploading", node=req.ctx.node_id, error=None, progress=0.0)
    claim["upload_started_at"] = time.time()
    key = (req.ctx.node_id, image_id)
    await req.store.commit([put("images", image_id, claim, expect=rec.version)])
    _ACTIVE.add(key)
    try:
        size, sha = await _receive(req, final, limit, declared, length, want_sha)
        done = dict(
            rec.value,
            state="ready",
            node=None if shared else req.ctx.node_id,
            path=str(final),
            size_bytes=size,
            sha256=sha,
            progress=1.0,
            error=None,
        )
        claimed = req.store.get("images", image_id)
        try:
            await req.commit(
                [put("images", image_id, done, expect=claimed.version if claimed else "absent")],
                event=("image.uploaded", "images", image_id, f"{done.get('name')} uploaded"),
            )
        except ApiError:
            final.unlink(missing_ok=True)  # the record does not name it: leave nothing behind
            raise
    except (ApiError, StoreError) as e:
        await _record_failure(req, image_id, rec.value, getattr(e, "message", str(e)))
        raise
    finally:
        _ACTIVE.discard(key)
    now = req.store.get("images", image_id)
    assert now is not None
    return one(now)


def _too_large(length: int, limit: int) -> ApiError:
    err = ApiError(
        f"the upload ({length} bytes) is larger than allowed ({limit} bytes)",
        code="too_large",
        limit=limit,
    )
    err.status = 413
    return err


def _check_space(pool_dir: Path, length: int | None) -> None:
    if length is None:
        return
    probe = pool_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the pool directory is made by the upload itself
    free = shutil.disk_usage(probe).free
    if length > free:
        raise ApiError(
            f"the pool has {free} bytes free, the upload needs {length}",
            code="no_space",
            free=free,
        )


async def _receive(
    req: ApiRequest,
    final: Path,
    limit: int,
    declared: int | None,
    length: int | None,
    sha256: str | None,
) -> tuple[int, str]:
    """Stream the request body into the pool; nothing stays behind on failure."""
    expected = declared if isinstance(declared, int) else length
    try:
        sink = await asyncio.to_thread(UploadSink, final, limit, expected)
    except OSError as e:
        raise ConflictError(
            f"cannot write into the pool: {e.strerror}", code="write_failed"
        ) from None
    try:
        try:
            async for chunk in req.http.content.iter_chunked(CHUNK):
                await asyncio.to_thread(sink.write, chunk)
        except (aiohttp.ClientPayloadError, ConnectionError) as e:
            raise ApiError(f"the upload was interrupted: {e}", code="upload_interrupted") from None
        return await asyncio.to_thread(sink.finish, sha256)
    except UploadRefused as e:
        raise _api_error(e) from None
    finally:
        await asyncio.to_thread(sink.abort)  # after finish: the temp file is already renamed


async def _record_failure(req: ApiRequest, image_id: str, before: dict[str, Any], why: str) -> None:
    """Back to the state before the claim, with the reason (best effort: the
    caller gets the real error either way)."""
    for _ in range(3):
        cur = req.store.get("images", image_id)
        if cur is None or cur.value.get("state") != "uploading":
            return
        value = dict(before, state="error", error=why, progress=None)
        with contextlib.suppress(StoreError):
            await req.store.commit([put("images", image_id, value, expect=cur.version)])
            return


async def _forward(req: ApiRequest, node: str) -> web.Response:
    """Stream the upload to the host that must hold the file, as the caller."""
    check_forwardable(req, node, "the image's file")
    headers = forwarded_headers(req, _PASS_HEADERS)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in req.http.content.iter_chunked(CHUNK):
            yield chunk

    # No total timeout: a large upload takes as long as it takes; a stalled one does not.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
    return await relay(req, node, "the image's file", headers, body(), timeout)
