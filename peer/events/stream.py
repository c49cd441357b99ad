"""Streaming events to a websocket from any peer, resumable from a revision.

The local replica's watch delivers changes in commit order; resuming from a
revision older than the watch's in-memory history falls back to the events
still in the (bounded) table, then continues live — so a client that keeps
the last revision it saw misses nothing the table still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from raft.commands import Record
from raft.store import Store, Watch, WatchExpired


def event_view(key: str, value: dict[str, Any], revision: int) -> dict[str, Any]:
    """An event as clients see it: the record key is ``id``; the id of the
    resource it is about is ``resource_id``."""
    out = {k: v for k, v in value.items() if k != "id"}
    return {"id": key, **out, "resource_id": value.get("id"), "revision": revision}


def _open(store: Store, from_revision: int | None) -> tuple[Watch, list[Record]]:
    if from_revision is None:
        return store.watch("events"), []
    try:
        return store.watch("events", from_revision=from_revision), []
    except WatchExpired:
        now = store.revision
        w = store.watch("events", from_revision=now)
        backlog = [r for r in store.scan("events") if from_revision < r.revision <= now]
        backlog.sort(key=lambda r: (r.revision, r.key))
        return w, backlog


class Backlogged(Exception):
    """The consumer fell more than ``max_backlog`` changes behind."""


async def follow(
    store: Store,
    from_revision: int | None,
    kinds: frozenset[str] | None = None,
    max_backlog: int | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """Events after ``from_revision`` (None: from now on), then live, forever.
    Raises Backlogged when more than ``max_backlog`` changes wait for the consumer."""
    w, backlog = _open(store, from_revision)
    try:
        for r in backlog:
            if kinds is None or r.value.get("kind") in kinds:
                yield event_view(r.key, r.value, r.revision)
        while True:
            if max_backlog is not None and w.queue.qsize() > max_backlog:
                raise Backlogged(f"{w.queue.qsize()} changes behind")
            c = await w.next(timeout=3600)
            if c is None or c.value is None:  # idle, or a trim removing old events
                continue
            if kinds is None or c.value.get("kind") in kinds:
                yield event_view(c.key, c.value, c.revision)
    finally:
        w.close()


async def first(it: AsyncIterator[dict[str, Any]], timeout: float) -> dict[str, Any] | None:
    """The next item of ``it`` within ``timeout`` seconds, or None (for tests/tools)."""
    with contextlib.suppress(TimeoutError, StopAsyncIteration):
        return await asyncio.wait_for(it.__anext__(), timeout)
    return None
