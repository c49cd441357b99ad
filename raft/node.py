"""``RaftStore``: the cluster store replicated through pysyncobj.

Starting a node (see docs/raft.md for the whole story)::

    store = RaftStore("10.0.0.1:8444", ["10.0.0.2:8444", "10.0.0.3:8444"],
                      data_dir="/var/lib/quantix/raft", secret=secret)
    await store.start()          # loads the journal/snapshot, binds, joins
    await store.put("vms", "vm1", {...}, expect="absent")

* The founding voters all start with the same member list.
* A new voter starts with the current voters as ``partners`` and an empty data
  directory; then a member calls ``await store.add_voter("10.0.0.4:8444")``. The
  leader sends it a snapshot and the log.
* A read-only replica starts with ``voter=False``; it needs no membership
  change, holds the whole state, serves local reads and forwards writes.
  ``add_voter(replica_addr)`` (or ``await replica.promote()``) turns it into a
  voter in place; it keeps its data and its watches.

Exactly-once: ``commit`` keeps resubmitting the same command (same op id)
after a leader change, pysyncobj's UNKNOWN_OUTCOME or silence, until the
deadline; the state machine applies an op id once and returns the original
result to every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack

from raft.commands import Change, StateMachine, validate_command
from raft.errors import (
    CommitTimeout,
    InvalidCommand,
    MembershipError,
    NoQuorum,
    SecretRequired,
    StoreError,
    UnknownOutcome,
)
from raft.pysyncobj_adapter import Replicator, Tuning
from raft.store import Store

log = logging.getLogger(__name__)

# A single command larger than this is refused (a VM spec is a few KiB).
MAX_COMMAND_BYTES = 1024 * 1024
MIN_SECRET_LEN = 12
# Resubmit a command we have heard nothing about for this long (duplicates are harmless).
SILENCE_RETRY = 2.0
# Failures after which the command may already be in the log.
_MAYBE_APPLIED = {"unknown_outcome", "leader_changed", "discarded"}

__all__ = ["RaftStore", "Tuning", "parse_addr"]


def parse_addr(addr: str, what: str = "raft address") -> tuple[str, int]:
    """Check an ``ip:port`` Raft identity; return (ip, port)."""
    host, sep, port = addr.rpartition(":")
    try:
        ip = ipaddress.IPv4Address(host)
        num = int(port)
    except ValueError:
        raise StoreError(f"{what} {addr!r} must be IPv4:port, like 10.0.0.1:8444") from None
    if not sep or not 1 <= num <= 65535:
        raise StoreError(f"{what} {addr!r} must be IPv4:port, like 10.0.0.1:8444")
    if ip.is_unspecified:
        raise StoreError(
            f"{what} {addr!r} is the any-address; give this node's own address so that "
            "Raft listens on that interface only"
        )
    return str(ip), num


class _Waiter:
    """One ``_submit`` call waiting for its op id, on its own event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.events: deque[tuple[str, Any, int]] = deque()
        self.attempt = 0
        self._wake: asyncio.Future[None] | None = None

    def post(self, kind: str, value: Any, attempt: int = 0) -> None:
        """Thread-safe: hand an event to the waiting coroutine."""
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
            self.loop.call_soon_threadsafe(self._push, (kind, value, attempt))

    def _push(self, event: tuple[str, Any, int]) -> None:
        self.events.append(event)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def next(self, timeout: float) -> tuple[str, Any, int] | None:
        """The next event, or None after ``timeout`` seconds (no task per wait)."""
        if not self.events and timeout > 0:
            self._wake = self.loop.create_future()
            timer = self.loop.call_later(timeout, _resolve, self._wake)
            try:
                await self._wake
            finally:
                timer.cancel()
                self._wake = None
        return self.events.popleft() if self.events else None


def _push_all(items: list[tuple[_Waiter, Any]]) -> None:
    for waiter, event in items:
        waiter._push(event)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class RaftStore(Store):
    """A member of the Raft-replicated cluster store (voter or read-only replica)."""

    def __init__(
        self,
        self_addr: str,
        partners: Sequence[str],
        data_dir: Path | str,
        secret: str | None,
        *,
        voter: bool = True,
        bind_addr: str | None = None,
        tuning: Tuning | None = None,
        node_id: str | None = None,
    ) -> None:
        if not secret:
            raise SecretRequired(
                "refusing to start the raft store without a cluster secret: without one "
                "any host that reaches the raft port could run code on this one"
            )
        if len(secret) < MIN_SECRET_LEN:
            raise SecretRequired(f"the cluster secret must be at least {MIN_SECRET_LEN} characters")
        parse_addr(self_addr)
        if bind_addr is not None:
            parse_addr(bind_addr, "raft bind address")
        for p in partners:
            parse_addr(p, "raft partner address")
        super().__init__()
        self.self_addr = self_addr
        self.node_id = node_id or self_addr
        self.tuning = tuning or Tuning()
        self._applied_index = 0
        self._waiters: dict[str, list[_Waiter]] = {}
        self._started = False
        self._stopped = False
        self._repl = Replicator(
            self_addr=self_addr,
            partners=list(partners),
            voter=voter,
            secret=secret,
            data_dir=Path(data_dir),
            bind_addr=bind_addr,
            tuning=self.tuning,
            on_entry=self._on_entry,
            on_failed=self._on_failed,
            snapshot_state=self._snapshot_state,
            restore_state=self._restore_state,
        )

    # -- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        """Load the journal and snapshot, bind and start replicating. Returns once
        the locally committed state is loaded (reads may still be stale until
        the node hears from the leader). Raises CorruptJournal for a damaged
        journal, StoreError when the address cannot be bound."""
        if self._started:
            return
        await asyncio.to_thread(self._repl.open)
        self._started = True

    async def stop(self) -> None:
        """Stop replicating; the journal is synced and closed."""
        if not self._started or self._stopped:
            return
        self._stopped = True
        await asyncio.to_thread(self._repl.close)
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
        for w in waiters:
            w.post("stopped", None)

    async def __aenter__(self) -> RaftStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def voter(self) -> bool:
        return self._repl.voter

    # -- writes ----------------------------------------------------------------
    async def _submit(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        validate_command(cmd)
        try:
            payload = msgpack.packb(cmd, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as e:
            raise InvalidCommand(f"the command cannot be encoded: {e}") from None
        if len(payload) > MAX_COMMAND_BYTES:
            raise InvalidCommand(
                f"the command is {len(payload)} bytes; the limit is {MAX_COMMAND_BYTES}"
            )
        if not self._started or self._stopped:
            raise StoreError("the raft store is not running")
        op_id = cmd["id"]
        waiter = _Waiter(asyncio.get_running_loop())
        with self._lock:
            done = self.sm.op_result(op_id)
            if done is not None:
                return dict(done, duplicate=True)
            self._waiters.setdefault(op_id, []).append(waiter)
        try:
            return await self._drive(waiter, op_id, payload, timeout)
        finally:
            with self._lock:
                ws = self._waiters.get(op_id, [])
                if waiter in ws:
                    ws.remove(waiter)
                if not ws:
                    self._waiters.pop(op_id, None)

    async def _drive(
        self, waiter: _Waiter, op_id: str, payload: bytes, timeout: float
    ) -> dict[str, Any]:
        loop = waiter.loop
        deadline = loop.time() + timeout
        last_failure: str | None = None
        backoff = 0.01
        while True:
            waiter.attempt += 1
            self._repl.submit(payload, (waiter, waiter.attempt))
            resubmit_at = loop.time() + SILENCE_RETRY
            while True:
                now = loop.time()
                if now >= deadline:
                    with self._lock:  # it may have landed just now
                        done = self.sm.op_result(op_id)
                    if done is not None:
                        return dict(done, duplicate=True)
                    raise self._deadline_error(op_id, timeout, last_failure)
                if now >= resubmit_at:
                    break  # silence: resubmit (a duplicate is applied once)
                event = await waiter.next(min(deadline, resubmit_at) - now)
                if event is None:
                    continue
                kind, value, attempt = event
                if kind == "result":
                    return dict(value)
                if kind == "stopped":
                    raise StoreError("the raft store stopped before the write was known to commit")
                if attempt == waiter.attempt:  # the current attempt failed
                    last_failure = value
                    # Back off a little (a leader is being elected) before trying
                    # again; a result that arrives meanwhile still ends the wait.
                    resubmit_at = min(resubmit_at, loop.time() + backoff)
                    backoff = min(backoff * 2, 0.2)

    def _deadline_error(self, op_id: str, timeout: float, failure: str | None) -> StoreError:
        st = self._repl.status()
        retry = f"retrying with the same op id ({op_id}) is safe"
        if st.get("leader") is None:
            voters = ", ".join(st.get("voters", [])) or "none known"
            return NoQuorum(
                f"no raft leader within {timeout}s: a majority of the voters ({voters}) "
                f"is not reachable from {self.self_addr}; the write may still commit later, "
                + retry,
                op_id=op_id,
            )
        if failure in _MAYBE_APPLIED:
            return UnknownOutcome(
                f"the write may or may not have been applied (last attempt: {failure}); " + retry,
                op_id=op_id,
            )
        return CommitTimeout(
            f"the write was not known to commit within {timeout}s (leader "
            f"{st.get('leader')}); " + retry,
            op_id=op_id,
        )

    # -- the replication layer's hooks (tick thread) ------------------------
    def _on_entry(self, index: int, data: bytes) -> None:
        if index <= self._applied_index:
            return  # already in our state (a replica restarted in place as a voter)
        try:
            cmds = msgpack.unpackb(data, raw=False)
        except Exception:
            log.error("raft: entry %d does not decode; skipping it on every replica", index)
            cmds = []
        if not isinstance(cmds, list):
            cmds = []
        # Wake-ups are posted once per event loop per entry, not once per write.
        wake: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, Any]]] = {}
        with self._lock:
            for cmd in cmds:
                res = self._apply(cmd)
                op_id = cmd.get("id") if isinstance(cmd, dict) else None
                if isinstance(op_id, str):
                    for w in self._waiters.get(op_id, ()):
                        wake.setdefault(w.loop, []).append((w, ("result", res, 0)))
            self._applied_index = index
        for loop, items in wake.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_push_all, items)

    def _on_failed(self, tokens: list[Any], reason: str) -> None:
        for waiter, attempt in tokens:
            waiter.post("failed", reason, attempt)

    def _snapshot_state(self) -> dict[str, Any]:
        """The state as plain data, safe to pack on another thread while
        applies go on (records are replaced on write, never changed in place)."""
        with self._lock:
            state = self.sm.snapshot()
            state["tables"] = {t: dict(rows) for t, rows in state["tables"].items()}
            return {"format": 1, "state": state}

    def _restore_state(self, state: dict[str, Any], index: int) -> None:
        with self._lock:
            if index <= self._applied_index:
                return  # we already hold that state or a newer one
            new = StateMachine()
            new.restore(state)
            changes = _diff(self.sm, new) if self._watches else []
            self.sm = new
            self._applied_index = index
            self._history.clear()
            for c in changes:
                self._history.append(c)
                for w in list(self._watches):
                    if w.matches(c):
                        self._post_change(w, c)
            self._wake_revision_waiters()

    # -- membership ---------------------------------------------------------
    def voters(self) -> list[str]:
        return self._repl.voters()

    async def add_voter(self, addr: str, timeout: float = 15.0) -> None:
        """Make ``addr`` a voter; returns once the change is committed.

        Call on any member. One change at a time: wait for this to return
        before the next. The new node must be running (as a voter started
        with the current members as partners, or as a replica, which then
        restarts itself as a voter in place)."""
        parse_addr(addr)
        await self._change_membership("add", addr, timeout)

    async def remove_voter(self, addr: str, timeout: float = 15.0) -> None:
        """Remove voter ``addr``; returns once the change is committed.

        Call on a member other than ``addr``, and not with the current leader
        as ``addr`` (pysyncobj's leader cannot remove itself): to retire the
        leader, ``step_down()`` on it first. A node cannot remove itself because
        the leader stops sending it entries as soon as the change is in its
        log, so it would never see the change commit. The removed node stops
        hearing from the cluster: its daemon should ``stop()`` it, or restart
        it as a replica (``voter=False``) on the same data dir."""
        parse_addr(addr)
        if addr == self.self_addr:
            raise MembershipError(
                f"{addr} cannot remove itself: ask another member to remove it"
                + (" after step_down() here" if self.is_leader else ""),
                address=addr,
            )
        if addr == self._repl.leader():
            raise MembershipError(
                f"{addr} is the current leader; call step_down() on it first, then remove it",
                address=addr,
            )
        await self._change_membership("remove", addr, timeout)

    async def promote(self, timeout: float = 15.0) -> None:
        """Turn this read-only replica into a voter (keeping its data)."""
        if self.voter:
            return
        await self._change_membership("add", self.self_addr, timeout)
        if not await asyncio.to_thread(self._repl.switched.wait, timeout):
            raise MembershipError(
                f"{self.self_addr} was added as a voter but did not restart as one within "
                f"{timeout}s",
                address=self.self_addr,
            )

    async def step_down(self, timeout: float = 10.0) -> None:
        """Hand leadership to the most up-to-date follower (no-op unless leader)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._repl.status().get("role") == "leader":
            fut: asyncio.Future[str | None] = loop.create_future()
            self._repl.transfer_leadership(_threadsafe_setter(loop, fut))
            await asyncio.wait_for(fut, max(0.1, deadline - loop.time()))
            for _ in range(40):
                await asyncio.sleep(0.05)
                if self._repl.status().get("role") != "leader":
                    return
            if loop.time() > deadline:
                raise MembershipError(f"{self.self_addr} could not hand over leadership")

    async def _change_membership(self, kind: str, addr: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        fut: asyncio.Future[str | None] | None = None
        last: str | None = None
        while True:
            if (addr in self.voters()) == (kind == "add"):
                # In our configuration (a change takes effect when appended; a
                # replica may even have restarted as a voter meanwhile): commit
                # something after it so that it is committed too.
                await self.barrier(max(0.5, deadline - loop.time()))
                return
            if fut is None:
                fut = loop.create_future()
                self._repl.change_membership(kind, addr, _threadsafe_setter(loop, fut))
            try:
                last = await asyncio.wait_for(
                    asyncio.shield(fut), max(0.01, min(1.0, deadline - loop.time()))
                )
                if last is None:
                    return
                fut = None  # refused (another change in flight, leader changing): ask again
                await asyncio.sleep(0.1)
            except TimeoutError:
                pass
            if loop.time() >= deadline:
                raise MembershipError(
                    f"could not {kind} voter {addr} within {timeout}s (last answer: "
                    f"{last or 'none'}); a previous change may still be committing, or there "
                    "is no quorum",
                    address=addr,
                    reason=last,
                )

    # -- status, maintenance ------------------------------------------------
    @property
    def is_leader(self) -> bool:
        # Asked several times a second by idle loops: skip building status().
        return self._repl.is_leader()

    def status(self) -> dict[str, Any]:
        st = self._repl.status()
        st.update(
            node_id=self.node_id,
            address=self.self_addr,
            revision=self.sm.revision,
            members=st.get("voters", []),
        )
        return st

    def compact(self) -> None:
        """Snapshot and cut the log now (normally automatic)."""
        self._repl.force_compaction()


def _threadsafe_setter(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[str | None]) -> Any:
    def done(reason: str | None) -> None:
        def set_it() -> None:
            if not fut.done():
                fut.set_result(reason)

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(set_it)

    return done


def _diff(old: StateMachine, new: StateMachine) -> list[Change]:
    """What a snapshot install changed, as one Change per record."""
    out: list[Change] = []
    rev = new.revision
    for table in sorted(set(old.tables) | set(new.tables)):
        a, b = old.tables.get(table, {}), new.tables.get(table, {})
        for key in sorted(set(a) | set(b)):
            ea, eb = a.get(key), b.get(key)
            if ea == eb:
                continue
            if eb is None:
                out.append(Change(table, key, rev, ea[0] if ea else 0, None))
            else:
                out.append(Change(table, key, eb[1], eb[0], eb[2]))
    return out
