"""The cluster store's API: local reads, awaitable commits, ordered watches.

``Store`` holds the replica's ``StateMachine`` and everything that does not
depend on how commands get replicated: reads with their revision, watches
woken on commit, exactly-once retries. Subclasses implement ``_submit`` (get a
command into the log and return its result) and the status/membership calls.
``RaftStore`` (raft/node.py) replicates through pysyncobj; ``LocalStore`` below
applies in-process and is what single-process unit tests of upper layers use.

Threading: replication code may apply commands from its own thread; every
touch of the state machine holds ``self._lock``, and watchers are woken on
their own event loop with ``call_soon_threadsafe`` so they see changes in
commit order without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from raft.commands import Change, Record, StateMachine, Value
from raft.errors import CommitTimeout, Conflict, InvalidCommand, StoreError

# Changes kept in memory so that a watch can resume from a recent revision.
HISTORY_SIZE = 20_000


class WatchExpired(StoreError):
    """The requested start revision is older than the retained change history."""

    status = 410
    code = "watch_expired"


def new_op_id() -> str:
    return uuid.uuid4().hex


def put(table: str, key: str, value: Value, expect: int | str | None = None) -> dict[str, Any]:
    """Build a put op (``expect``: None, "absent", "present" or a version)."""
    return {"op": "put", "table": table, "key": key, "value": value, "expect": expect}


def delete(table: str, key: str, expect: int | str | None = None) -> dict[str, Any]:
    return {"op": "delete", "table": table, "key": key, "expect": expect}


def check(table: str, key: str, expect: int | str) -> dict[str, Any]:
    return {"op": "check", "table": table, "key": key, "expect": expect}


def trim(table: str, keep: int) -> dict[str, Any]:
    return {"op": "trim", "table": table, "keep": keep}


class Watch:
    """An async iterator of ``Change`` for one subscription. Close it when done.

    ``accept``, if given, is called with each change of the watched tables on the
    thread that applies it (the Raft thread, under the store's lock): a change it
    refuses never wakes the watcher's event loop. It must be quick and must not
    touch the store. Every heartbeat brings a lease renewal from every host, and a
    watcher that ignores those should not be woken for them.
    """

    def __init__(
        self,
        store: Store,
        tables: frozenset[str] | None,
        prefix: str,
        accept: Callable[[Change], bool] | None = None,
    ) -> None:
        self._store = store
        self.tables = tables
        self.prefix = prefix
        self.accept = accept
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Change] = asyncio.Queue()
        self.closed = False
        self._wake: asyncio.Future[None] | None = None

    def matches(self, c: Change) -> bool:
        return (
            (self.tables is None or c.table in self.tables)
            and c.key.startswith(self.prefix)
            and (self.accept is None or self.accept(c))
        )

    def _deliver(self, c: Change) -> None:
        if not self.closed:
            self.queue.put_nowait(c)
            if self._wake is not None and not self._wake.done():
                self._wake.set_result(None)

    def __aiter__(self) -> AsyncIterator[Change]:
        return self

    async def __anext__(self) -> Change:
        if self.closed:
            raise StopAsyncIteration
        return await self.queue.get()

    async def next(self, timeout: float) -> Change | None:
        """The next change, or None if none arrives within ``timeout`` seconds.

        One consumer at a time. No task per call (``asyncio.wait_for`` makes one):
        idle peers call this every second from several loops."""
        if self.queue.empty() and timeout > 0:
            wake = self._wake = self.loop.create_future()
            timer = self.loop.call_later(timeout, _set_done, wake)
            try:
                await wake
            finally:
                timer.cancel()
                self._wake = None
        return None if self.queue.empty() else self.queue.get_nowait()

    def close(self) -> None:
        self.closed = True
        self._store._unwatch(self)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(ABC):
    """A replica of the cluster state and the way to change it."""

    def __init__(self) -> None:
        self.sm = StateMachine()
        self._lock = threading.RLock()
        self._watches: list[Watch] = []
        self._history: deque[Change] = deque(maxlen=HISTORY_SIZE)
        # Revision waiters: (revision, loop, future), woken when applied >= revision.
        self._rev_waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- reads (local, possibly stale) ------------------------------------
    @property
    def revision(self) -> int:
        return self.sm.revision

    def get(self, table: str, key: str) -> Record | None:
        with self._lock:
            return self.sm.get(table, key)

    def scan(self, table: str, prefix: str = "") -> list[Record]:
        with self._lock:
            return self.sm.scan(table, prefix)

    def count(self, table: str) -> int:
        with self._lock:
            return self.sm.count(table)

    def state_hash(self) -> str:
        with self._lock:
            return self.sm.state_hash()

    # -- linearizable reads ---------------------------------------------------
    async def barrier(self, timeout: float = 5.0) -> int:
        """Commit an empty command through the log; when it returns, every write
        acknowledged before the call is visible locally. Returns the revision."""
        res = await self.commit([], timeout=timeout)
        return int(res["revision"])

    async def get_consistent(self, table: str, key: str, timeout: float = 5.0) -> Record | None:
        await self.barrier(timeout)
        return self.get(table, key)

    async def scan_consistent(
        self, table: str, prefix: str = "", timeout: float = 5.0
    ) -> list[Record]:
        await self.barrier(timeout)
        return self.scan(table, prefix)

    # -- writes -------------------------------------------------------------
    async def commit(
        self,
        ops: Sequence[dict[str, Any]],
        *,
        op_id: str | None = None,
        timeout: float = 5.0,
        raise_conflict: bool = True,
    ) -> dict[str, Any]:
        """Commit ``ops`` atomically; return the result once applied locally.

        Retrying with the same ``op_id`` after a timeout or UnknownOutcome is
        safe: the change is applied at most once and the original result comes
        back. Raises Conflict when a precondition failed (nothing applied),
        NoQuorum / CommitTimeout / UnknownOutcome when the outcome is not known.
        """
        cmd = {"id": op_id or new_op_id(), "ts": time.time(), "ops": list(ops)}
        res = await self._submit(cmd, timeout)
        if "invalid" in res:
            raise InvalidCommand(str(res["invalid"]))
        await self.wait_revision(int(res["revision"]), timeout)
        if raise_conflict and not res["ok"]:
            c = res["conflict"]
            raise Conflict(
                f"{c['table']}/{c['key']}: expected {c['expected']}, found version {c['actual']}",
                **c,
            )
        return res

    async def put(
        self, table: str, key: str, value: Value, expect: int | str | None = None, **kw: Any
    ) -> Record:
        res = await self.commit([put(table, key, value, expect)], **kw)
        return Record(table, key, res["versions"][0], res["revision"], value)

    async def delete(
        self, table: str, key: str, expect: int | str | None = None, **kw: Any
    ) -> None:
        await self.commit([delete(table, key, expect)], **kw)

    @abstractmethod
    async def _submit(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Get ``cmd`` into the replicated log; return its apply result."""

    # -- applying (called by the replication layer, any thread) -------------
    def _apply(self, cmd: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            result, changes = self.sm.apply(cmd)
            for c in changes:
                self._history.append(c)
                for w in list(self._watches):
                    if w.matches(c):
                        self._post_change(w, c)
            self._wake_revision_waiters()
        return result

    def _post_change(self, w: Watch, c: Change) -> None:
        # Runs on the replication thread: a watcher whose loop has closed is
        # dropped rather than allowed to break the apply.
        try:
            w.loop.call_soon_threadsafe(w._deliver, c)
        except RuntimeError:
            w.closed = True
            if w in self._watches:
                self._watches.remove(w)

    def _wake_revision_waiters(self) -> None:
        rev = self.sm.revision
        keep = []
        for r, loop, fut in self._rev_waiters:
            if r <= rev:
                with contextlib.suppress(RuntimeError):  # its loop is gone
                    loop.call_soon_threadsafe(_set_done, fut)
            else:
                keep.append((r, loop, fut))
        self._rev_waiters = keep

    async def wait_revision(self, revision: int, timeout: float = 5.0) -> None:
        """Return once this replica has applied ``revision``."""
        with self._lock:
            if self.sm.revision >= revision:
                return
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._rev_waiters.append((revision, asyncio.get_running_loop(), fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise CommitTimeout(
                f"revision {revision} not applied locally within {timeout}s"
            ) from None

    # -- watches ----------------------------------------------------------
    def watch(
        self,
        tables: Sequence[str] | str | None = None,
        prefix: str = "",
        from_revision: int | None = None,
        accept: Callable[[Change], bool] | None = None,
    ) -> Watch:
        """Subscribe to changes (optionally replaying those after ``from_revision``;
        ``accept``: see ``Watch``).

        Must be called on the event loop that will consume it.
        """
        tset = frozenset([tables] if isinstance(tables, str) else tables) if tables else None
        w = Watch(self, tset, prefix, accept)
        with self._lock:
            if from_revision is not None and from_revision < self.sm.revision:
                oldest = self._history[0].revision if self._history else self.sm.revision + 1
                if from_revision + 1 < oldest:
                    raise WatchExpired(
                        f"revision {from_revision} is older than the retained history "
                        f"(oldest {oldest}); re-read the state and watch from now",
                        oldest=oldest,
                    )
                for c in self._history:
                    if c.revision > from_revision and w.matches(c):
                        w.queue.put_nowait(c)
            self._watches.append(w)
        return w

    def _unwatch(self, w: Watch) -> None:
        with self._lock:
            if w in self._watches:
                self._watches.remove(w)

    # -- lifecycle and status -----------------------------------------------
    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start replication (no-op for stores that need none)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop replication and flush what must be durable."""

    @abstractmethod
    def status(self) -> dict[str, Any]:
        """Role, leader, term, commit index, members, revision, ..."""

    @property
    def is_leader(self) -> bool:
        return bool(self.status().get("role") == "leader")


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LocalStore(Store):
    """A single replica that commits in-process: for unit tests of upper layers
    and for tools that need the state machine without a cluster."""

    def __init__(self, node_id: str = "local") -> None:
        super().__init__()
        self.node_id = node_id

    async def _submit(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self._apply(cmd)

    def status(self) -> dict[str, Any]:
        return {
            "role": "leader",
            "leader": self.node_id,
            "node_id": self.node_id,
            "term": 1,
            "commit_index": self.sm.revision,
            "revision": self.sm.revision,
            "members": [self.node_id],
            "voters": [self.node_id],
            "has_quorum": True,
        }
