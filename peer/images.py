"""The image library's importer: a ``pending`` image with a ``source_url`` is
fetched into its pool by one peer, with progress and a checksum.

Who imports: for a shared pool (every host sees it) the leader; for a host's
own pool the host named by the image's ``node`` (else the leader). The importer
first claims the image with compare-and-set (``pending`` -> ``importing``,
``node`` = itself), so two peers never import one image; progress is committed
about once a second; the end is ``ready`` (with path, size, sha256) or
``error`` with the reason. The driver deletes a half-written volume on failure.
An import interrupted by a crash is found ``importing`` by a dead node and
started again by the next leader pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from hypervisor.contract import UrlCheck
from hypervisor.errors import HypervisorError
from peer.context import PeerContext
from peer.logs import kv
from peer.storage_roots import PathRefused, open_inside, pool_dir
from peer.url_policy import resolving_checker
from raft.errors import StoreError
from raft.store import Store, put

log = logging.getLogger("peer.images")

PROGRESS_EVERY = 1.0
_POOL_LOCK = threading.Lock()
RESYNC = 5.0


def volume_name(image_id: str, name: str) -> str:
    """The pool volume an image becomes: its id plus a readable, safe stem."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", name)[:48] or "image"
    return f"img-{image_id}-{stem}"


def upload_host(store: Store, image: dict[str, Any], me: str) -> str:
    """The peer that must write an uploaded image's file, by the importer's rule.

    A shared pool is seen by every host, so the peer that receives the bytes
    writes them. A host's own pool: the image's ``node`` when it names one, else
    a host of the pool's ``nodes`` (this one if it is among them, or when the
    list is empty: the pool is on every host). Unlike an import, no leader is
    needed to pick one writer: the bytes arrive at exactly one peer.
    """
    pool = store.get("pools", str(image.get("pool")))
    if pool is None or pool.value.get("shared"):
        return me
    if image.get("node") and image.get("state") != "uploading":
        return str(image["node"])
    nodes = [str(n) for n in pool.value.get("nodes") or []]
    return me if not nodes or me in nodes else sorted(nodes)[0]


class ImageImporter:
    def __init__(self, ctx: PeerContext, lease_ttl: float) -> None:
        self.ctx = ctx
        self.lease_ttl = lease_ttl
        self._stop = asyncio.Event()
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # kept so they are not collected

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        watch = self.ctx.store.watch("images")
        try:
            while not self._stop.is_set():
                with contextlib.suppress(StoreError):
                    await self.step()
                await watch.next(RESYNC)
        finally:
            watch.close()

    def _mine(self, image: dict[str, Any]) -> bool:
        store, me = self.ctx.store, self.ctx.node_id
        pool = store.get("pools", str(image.get("pool")))
        if pool is None:
            return False
        node = image.get("node")
        if image.get("state") == "importing":
            # Claimed by a node whose lease is gone: the leader takes it over.
            lease = store.get("leases", str(node)) if node else None
            age = store.sm.last_ts - float(lease.value.get("renewed_at", 0)) if lease else 1e9
            return store.is_leader and node != me and age > self.lease_ttl
        if node and not pool.value.get("shared"):
            return bool(node == me)
        return store.is_leader

    async def step(self) -> None:
        if self.ctx.services.get("driver") is None:
            return
        for rec in self.ctx.store.scan("images"):
            v = rec.value
            wanted = v.get("state") in ("pending", "importing") and v.get("source_url")
            if wanted and rec.key not in self._busy and self._mine(v):
                self._busy.add(rec.key)
                self._tasks.add(task := asyncio.create_task(self._import(rec.key)))
                task.add_done_callback(self._tasks.discard)

    async def _import(self, image_id: str) -> None:
        store, driver = self.ctx.store, self.ctx.services["driver"]
        try:
            rec = store.get("images", image_id)
            if rec is None:
                return
            claim = dict(rec.value, state="importing", node=self.ctx.node_id, progress=0.0)
            await store.commit([put("images", image_id, claim, expect=rec.version)])
            pool = store.get("pools", str(claim["pool"]))
            assert pool is not None
            try:  # this host's own roots decide, whatever the record says
                where = pool_dir(self.ctx.config.roots, pool.value, pool.key)
            except PathRefused as e:
                await self._finish(image_id, state="error", error=e.message)
                return
            loop = asyncio.get_running_loop()
            last = [0.0]

            def progress(done: int, total: int | None) -> None:
                now = time.monotonic()
                if total and now - last[0] >= PROGRESS_EVERY:
                    last[0] = now
                    asyncio.run_coroutine_threadsafe(self._progress(image_id, done / total), loop)

            def work() -> dict[str, Any]:
                with contextlib.ExitStack() as stack:
                    source = self._source(str(claim["source_url"]), stack)
                    with _POOL_LOCK:  # two imports into a new pool must not both define it
                        driver.ensure_pool(str(claim["pool"]), str(where))
                    result: dict[str, Any] = driver.import_image(
                        str(claim["pool"]),
                        volume_name(image_id, str(claim.get("name", "image"))),
                        source,
                        claim.get("sha256"),
                        progress,
                        self._url_check(),
                    )
                    return result

            try:
                done = await asyncio.to_thread(work)
            except (HypervisorError, PathRefused) as e:
                log.warning("image import failed", extra=kv(image=image_id, reason=str(e)))
                await self._finish(image_id, state="error", error=str(e))
                return
            await self._finish(
                image_id,
                state="ready",
                error=None,
                progress=1.0,
                path=done.get("path"),
                size_bytes=done.get("size_bytes"),
                sha256=done.get("sha256"),
                format=done.get("format"),
            )
            log.info("image imported", extra=kv(image=image_id, path=done.get("path")))
        except StoreError as e:
            log.info("image import not recorded", extra=kv(image=image_id, reason=e.message))
        finally:
            self._busy.discard(image_id)

    def _source(self, url: str, stack: contextlib.ExitStack) -> str:
        """What the driver opens. A ``file://`` source must lie inside one of this
        host's pool roots: it is opened here (no symlink, checked after the open)
        and handed over as that open file, so nothing can swap it meanwhile."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "file":
            return url
        fd = open_inside(self.ctx.config.roots, Path(urllib.parse.unquote(parsed.path)))
        stack.callback(os.close, fd)
        return f"/proc/self/fd/{fd}"

    def _url_check(self) -> UrlCheck:
        members = [str(r.value.get("address")) for r in self.ctx.store.scan("nodes")]
        return resolving_checker(self.ctx.config.url_import_allow, [*members, self.ctx.address])

    async def _progress(self, image_id: str, fraction: float) -> None:
        rec = self.ctx.store.get("images", image_id)
        if rec is not None and rec.value.get("state") == "importing":
            with contextlib.suppress(StoreError):
                value = dict(rec.value, progress=round(fraction, 3))
                await self.ctx.store.commit([put("images", image_id, value, expect=rec.version)])

    async def _finish(self, image_id: str, **fields: Any) -> None:
        for _ in range(5):  # progress commits may race the final one: retry on conflict
            rec = self.ctx.store.get("images", image_id)
            if rec is None:
                return
            try:
                await self.ctx.store.commit(
                    [put("images", image_id, dict(rec.value, **fields), expect=rec.version)]
                )
                return
            except StoreError:
                await asyncio.sleep(0.1)
