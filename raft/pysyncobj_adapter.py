"""The one module that imports pysyncobj: it runs one Raft member and turns
pysyncobj's callbacks, failure codes and files into ours.

What it changes from pysyncobj's defaults, and why:

* **Journal.** pysyncobj builds its log with ``createJournal(conf.journalFile)``;
  a small hook lets ``conf.journalFile`` be a ready-made
  ``raft.durable.DurableJournal`` (checksummed, fsynced). The transport
  fsyncs that journal before it sends an acknowledgement (``next_node_idx``)
  or a vote, and the tick loop fsyncs it before every commit computation, so
  no entry is counted towards a majority before it is on disk. Appends
  between two syncs share one fdatasync (group commit).
* **Snapshots.** ``serializer``/``deserializer`` write our own format
  (msgpack + CRC, ``raft.durable``), not a pickle of the object; the same
  file is what a lagging member receives.
* **Latency.** ``appendEntriesUseBatch=False`` sends append-entries as soon as
  a command is in the log and wakes the tick thread through a pipe when a
  command is queued, instead of waiting for the 50 ms poll and the 100 ms
  batch timer. Our own tick loop (``autoTick=False``) batches the commands
  queued since the last tick into one log entry (a msgpack array), so a
  pipelined burst costs one entry, one fsync and one message per follower.
* **Security.** ``password`` (the cluster secret) encrypts and authenticates
  every message before pysyncobj unpickles it; the server binds to the
  node's own address, never 0.0.0.0. Our commands travel as msgpack bytes:
  the pickled payload is ``(method id, (bytes,))``. Membership changes carry
  plain address strings, not pickled node objects.
* **Strangers cannot stall the tick thread.** pysyncobj reads a connection
  until the socket is empty and appends to an immutable buffer until a whole
  frame is in (its length prefix allows 2^31 bytes), all on the tick thread,
  before it decrypts anything: one stranger streaming a huge frame stopped
  heartbeats and commits (lease renewals, so HA fencing). Here, before any
  decryption: a frame on a connection that has not yet produced one
  authenticated message may be at most ``MAX_FRAME_UNAUTH`` bytes (the
  handshake frames are tiny), any frame at most ``MAX_FRAME``; one poll event
  reads at most ``READ_BUDGET`` bytes of one connection (into a growable
  buffer); at most ``MAX_UNKNOWN_CONNECTIONS`` incoming connections may be
  unauthenticated at once, each for at most ``UNKNOWN_DEADLINE`` seconds.
  A breach closes the connection.
"""

from __future__ import annotations

import _socket
import contextlib
import errno
import fcntl
import logging
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
import pysyncobj.pickle as _pickle
import pysyncobj.syncobj as _syncobj_module
from pysyncobj import SyncObj, SyncObjConf, replicated
from pysyncobj.config import FAIL_REASON, SERIALIZER_STATE
from pysyncobj.node import TCPNode
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.syncobj import _COMMAND_TYPE, SyncObjException
from pysyncobj.tcp_connection import TcpConnection
from pysyncobj.transport import TCPTransport

from raft.durable import DurableJournal, fsync_dir, read_snapshot, write_snapshot
from raft.errors import StoreError
from raft.reserve import DEFAULT_SIZE, RESERVE_NAME, SpaceReserve

# pysyncobj's win_inet_pton module replaces socket.inet_ntop with a Windows-only
# ctypes shim on every platform (an indentation slip), which breaks IPv6
# formatting for the whole process (psutil, zeroconf, ...). Put the real one back.
socket.inet_ntop = _socket.inet_ntop

log = logging.getLogger(__name__)

# pysyncobj's failure codes under the names the store uses.
FAILURES = {
    FAIL_REASON.QUEUE_FULL: "queue_full",
    FAIL_REASON.MISSING_LEADER: "no_leader",
    FAIL_REASON.DISCARDED: "discarded",
    FAIL_REASON.NOT_LEADER: "not_leader",
    FAIL_REASON.LEADER_CHANGED: "leader_changed",
    FAIL_REASON.REQUEST_DENIED: "denied",
    FAIL_REASON.UNKNOWN_OUTCOME: "unknown_outcome",
}
_ROLES = {0: "follower", 1: "candidate", 2: "leader"}

_create_journal = _syncobj_module.createJournal


def _journal_hook(journal_file: Any) -> Any:
    if isinstance(journal_file, DurableJournal):
        return journal_file
    return _create_journal(journal_file)


_syncobj_module.createJournal = _journal_hook

# -- frame limits, checked before anything is decrypted (see the module docstring)
MAX_FRAME_UNAUTH = 64 * 1024
# Our largest legitimate frame: an append-entries batch (4 MiB, see
# appendEntriesBatchSizeBytes) or a single oversized entry; snapshots travel
# in 1 MiB pieces.
MAX_FRAME = 64 * 1024 * 1024
READ_BUDGET = 4 * 1024 * 1024
MAX_UNKNOWN_CONNECTIONS = 16
UNKNOWN_DEADLINE = 5.0
_LEN = struct.Struct("i")  # pysyncobj's length prefix: native signed int


def _frame_limit(conn: Any) -> int:
    return MAX_FRAME if getattr(conn, "_qx_authed", False) else MAX_FRAME_UNAUTH


def _try_read_buffer(conn: Any) -> None:
    """TcpConnection.__tryReadBuffer, bounded: stop after READ_BUDGET bytes (the
    poll wakes us again) and drop the connection as soon as a length prefix
    announces a frame over its limit."""
    read = 0
    while read < READ_BUDGET:
        before = len(conn._TcpConnection__readBuffer)
        if not conn._TcpConnection__processRead():
            break
        buf = conn._TcpConnection__readBuffer
        read += len(buf) - before
        if len(buf) >= 4:
            size = _LEN.unpack_from(buf)[0]
            if size < 0 or size > _frame_limit(conn):
                log.warning("raft: dropping a connection announcing a %d-byte frame", size)
                conn.disconnect()
                return
    conn._TcpConnection__lastReadTime = time.monotonic()


def _process_read(conn: Any) -> bool:
    """TcpConnection.__processRead into a bytearray (appending is amortized
    O(1); pysyncobj's bytes concatenation made a big frame quadratic)."""
    sock = conn._TcpConnection__socket
    try:
        incoming = sock.recv(conn._TcpConnection__recvBufferSize)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
            conn.disconnect()
        return False
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or not incoming:
        conn.disconnect()
        return False
    buf = conn._TcpConnection__readBuffer
    if not isinstance(buf, bytearray):
        buf = conn._TcpConnection__readBuffer = bytearray(buf)
    buf += incoming
    return True


def _parse_message(conn: Any) -> Any:
    """TcpConnection.__processParseMessage with the frame limit checked first;
    a connection is authenticated once one of its frames decrypts."""
    buf = conn._TcpConnection__readBuffer
    if len(buf) < 4:
        return None
    size = _LEN.unpack_from(buf)[0]
    if size < 0 or size > _frame_limit(conn):
        conn.disconnect()
        return None
    if len(buf) - 4 < size:
        return None
    data = bytes(buf[4 : 4 + size])
    try:
        if conn.encryptor:
            stamp = conn.encryptor.extract_timestamp(data)
            if stamp < conn.recvLastTimestamp:
                raise ValueError("replayed or reordered frame")
            conn.recvLastTimestamp = stamp
            data = conn.encryptor.decrypt(data)
        message = _pickle.loads(zlib.decompress(data))
        if conn.recvRandKey:
            rand_key, message = message
            if rand_key != conn.recvRandKey:
                raise ValueError("frame from another connection")
    except Exception:
        conn.disconnect()
        return None
    conn._qx_authed = True
    del buf[: 4 + size]
    return message


_tcp_connect = TcpConnection.connect


def _connect(conn: Any, host: str, port: int) -> Any:
    """An outgoing connection object is reused for every reconnect: a new
    connection has proven nothing yet."""
    conn._qx_authed = False
    return _tcp_connect(conn, host, port)


TcpConnection.connect = _connect
TcpConnection._TcpConnection__tryReadBuffer = _try_read_buffer
TcpConnection._TcpConnection__processRead = _process_read
TcpConnection._TcpConnection__processParseMessage = _parse_message


@dataclass(frozen=True)
class Tuning:
    """Timing and size settings (docs/raft.md explains each choice)."""

    # Longest the tick thread sleeps when nothing happens. Commands and
    # messages wake it at once (a pipe), so this only paces timers; each
    # wakeup costs CPU, and 0.1 s halves idle CPU compared with 0.05 s.
    tick: float = 0.1
    # Leader heartbeat (pysyncobj appendEntriesPeriod). Timers are checked each
    # tick, so heartbeats actually go out every 0.15-0.2 s.
    heartbeat: float = 0.15
    # A follower that hears no leader for a random time in this range starts
    # an election: three or more heartbeats, so a busy moment is no failover.
    election_min: float = 0.6
    election_max: float = 1.2
    # A connection with no traffic for this long is dropped (followers do not
    # talk to each other, so theirs cycle); a dropped one is retried after
    # connection_retry, which also bounds how long a restarted cluster waits.
    connection_timeout: float = 5.0
    connection_retry: float = 0.25
    # A leader that hears from no majority for this long steps down.
    leader_fallback: float = 2.5
    # Snapshot and cut the log after this many entries, this long, or this many bytes.
    compaction_entries: int = 5000
    compaction_seconds: float = 300.0
    compaction_bytes: int = 64 * 1024 * 1024
    # Largest log entry the batcher builds from queued commands.
    batch_bytes: int = 256 * 1024
    # fsync the journal (turn off only to measure what durability costs).
    fsync: bool = True
    # Disk space held back for the journal, given up when the disk fills (raft.reserve).
    disk_reserve: int = DEFAULT_SIZE


class _Wakeup:
    """A pipe the tick thread polls; writing to it ends the poll at once."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def attach(self, poller: Any) -> None:
        poller.subscribe(self._r, self._drain, POLL_EVENT_TYPE.READ)

    def notify(self) -> None:
        # A full pipe already wakes the poll.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._w, b"!")

    def _drain(self, fd: int, event: int) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._r, 4096):
                pass

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class _Transport(TCPTransport):  # type: ignore[misc]
    """TCP transport that makes the journal durable before acknowledging, keeps
    a follower from deleting entries it already holds, and bounds the
    connections that have not authenticated yet."""

    def _onNewIncomingConnection(self, conn: Any) -> None:
        self._qx_drop_stale()
        if len(self._unknownConnections) >= MAX_UNKNOWN_CONNECTIONS:
            conn.disconnect()
            return
        conn._qx_since = time.monotonic()
        super()._onNewIncomingConnection(conn)

    def _onTick(self) -> None:
        super()._onTick()
        self._qx_drop_stale()

    def _qx_drop_stale(self) -> None:
        """Drop incoming connections that have not identified themselves in time."""
        now = time.monotonic()
        for conn in list(self._unknownConnections):
            if now - getattr(conn, "_qx_since", now) > UNKNOWN_DEADLINE:
                conn.disconnect()
                self._unknownConnections.discard(conn)

    def send(self, node: Any, message: Any) -> Any:
        if isinstance(message, dict) and message.get("type") in ("next_node_idx", "response_vote"):
            self._syncObj._qx_journal.sync()
        return super().send(node, message)

    def _onMessageReceived(self, node: Any, message: Any) -> None:
        if (
            isinstance(message, dict)
            and message.get("type") == "append_entries"
            and message.get("entries")
            and "transmission" not in message
        ):
            skip_known_entries(message, self._syncObj._qx_journal)
        super()._onMessageReceived(node, message)


def skip_known_entries(message: dict[str, Any], log_: Any) -> None:
    """Drop from an append-entries message the entries this log already holds.

    pysyncobj's follower deletes every entry after ``prevLogIdx`` before
    appending, even entries that match, and its leader moves a follower's next
    index back on every acknowledgement, so under pipelining it re-sends
    entries the follower already has (and may already have acknowledged and
    applied). Raft deletes only on conflict (same index, other term). Here the
    entries already present with the same term are removed from the message
    and ``prevLogIdx`` advanced past them; when nothing new is left and the rest
    of the log came from this same leader (its term), ``prevLogIdx`` is moved to
    the end of the log, which then matches the leader's log (Log Matching), so
    nothing is deleted. A real conflict is left for pysyncobj to truncate.
    """
    entries = message["entries"]
    prev = message.get("prevLogIdx")
    n = len(log_)
    if not n or prev is None or entries[0][1] != prev + 1:
        return
    first, last = log_[0][1], log_[-1][1]
    known = 0
    for _command, idx, term in entries:
        if idx < first or idx > last or log_[idx - first][2] != term:
            break
        known += 1
    if not known:
        return
    message["entries"] = entries[known:]
    message["prevLogIdx"], message["prevLogTerm"] = entries[known - 1][1], entries[known - 1][2]
    if message["entries"] or message["prevLogIdx"] >= last:
        return
    leader_term = message.get("term")
    start = message["prevLogIdx"] + 1 - first
    if all(log_[i][2] == leader_term for i in range(start, n)):
        message["prevLogIdx"], message["prevLogTerm"] = last, log_[-1][2]


class _SyncObj(SyncObj):  # type: ignore[misc]
    def __init__(
        self,
        self_node: str | None,
        partners: list[str],
        conf: Any,
        journal: DurableJournal,
        on_entry: Callable[[int, bytes], None],
    ) -> None:
        self._qx_journal = journal
        self._qx_on_entry = on_entry
        super().__init__(self_node, partners, conf, transportClass=_Transport)

    def _checkCommandsToApply(self) -> None:
        # With appendEntriesUseBatch off, pysyncobj sends append-entries to every
        # follower once per queued command. Commands queued in the same tick (our
        # own batch, and commands followers forwarded: their lease renewals arrive
        # together, each heartbeat) go out in one message per follower instead.
        conf = self._SyncObj__conf
        before = self._SyncObj__getCurrentLogIndex()
        conf.appendEntriesUseBatch = True
        try:
            super()._checkCommandsToApply()
        finally:
            conf.appendEntriesUseBatch = False
        if self._isLeader() and self._SyncObj__getCurrentLogIndex() > before:
            self._SyncObj__sendAppendEntries()

    @replicated  # type: ignore[untyped-decorator]
    def _qx_apply(self, data: bytes) -> None:
        # pysyncobj applies entries in order and bumps raftLastApplied after each.
        self._qx_on_entry(self.raftLastApplied + 1, data)


class _SnapshotDeferred(Exception):
    """Raised by the serializer so that pysyncobj does not rename its temp file."""


Token = Any
EntryHook = Callable[[int, bytes], None]
FailHook = Callable[[list[Token], str], None]


class Replicator:
    """One Raft member (voter or read-only replica) with its own tick thread.

    ``submit`` queues one msgpack-packed command; the tick thread packs what is
    queued into one log entry (a msgpack array of commands). ``on_entry(index,
    data)`` is called on the tick thread for every committed entry, in order;
    ``on_failed(tokens, reason)`` when pysyncobj reports that an entry's fate
    is not success. ``snapshot_state()`` returns the state machine as plain
    data; ``restore_state(state, index)`` replaces it.
    """

    def __init__(
        self,
        *,
        self_addr: str,
        partners: list[str],
        voter: bool,
        secret: str,
        data_dir: Path,
        bind_addr: str | None,
        tuning: Tuning,
        on_entry: EntryHook,
        on_failed: FailHook,
        snapshot_state: Callable[[], dict[str, Any]],
        restore_state: Callable[[dict[str, Any], int], None],
    ) -> None:
        self.self_addr = self_addr
        self.partners = [p for p in partners if p != self_addr]
        self.voter = voter
        self.bind_addr = bind_addr or self_addr
        self.tuning = tuning
        self.data_dir = data_dir
        self.journal_path = data_dir / "raft.journal"
        self.meta_path = data_dir / "raft.meta"
        self.snapshot_path = data_dir / "raft.snapshot"
        self._secret = secret
        self._on_entry = on_entry
        self._on_failed = on_failed
        self._snapshot_state = snapshot_state
        self._restore_state = restore_state
        self._so: Any = None
        self._journal: DurableJournal | None = None
        self._cached_snapshot: dict[str, Any] | None = None
        self._pending: list[tuple[bytes, Token]] = []
        self._pending_lock = threading.Lock()
        self._wakeup = _Wakeup()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._raft_state = 0
        self._lock_fd = -1
        self.snapshots_written = 0
        self.last_snapshot_s = 0.0
        self._snapshot_thread: threading.Thread | None = None
        self._snapshot_result: int | None = None
        self.switched = threading.Event()  # set when a replica became a voter

    # -- lifecycle (blocking; the store calls these in a worker thread) -----
    def open(self, ready_timeout: float = 30.0) -> None:
        """Load the disk state, bind, start the tick thread and return once the
        locally committed log has been applied."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        try:
            for stale in (
                "raft.snapshot.tmp",
                "raft.snapshot.1.tmp",
                "raft.snapshot.next",
                "raft.journal.tmp",
            ):
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / stale).unlink()
            if self.snapshot_path.exists():
                # Checked here because pysyncobj swallows errors from the deserializer.
                self._cached_snapshot = read_snapshot(self.snapshot_path)
            self._open_syncobj()
        except BaseException:
            self._unlock_data_dir()
            raise
        self._thread = threading.Thread(target=self._run, name="raft-tick", daemon=True)
        self._thread.start()
        if not self._ready.wait(ready_timeout):
            raise StoreError("the raft tick thread did not finish loading the local state")

    def _open_syncobj(self) -> None:
        reserve = SpaceReserve(self.data_dir / RESERVE_NAME, self.tuning.disk_reserve)
        journal = DurableJournal(
            self.journal_path, self.meta_path, fsync=self.tuning.fsync, reserve=reserve
        )
        t = self.tuning
        conf = SyncObjConf(
            password=self._secret,
            autoTick=False,
            appendEntriesUseBatch=False,
            appendEntriesPeriod=t.heartbeat,
            raftMinTimeout=t.election_min,
            raftMaxTimeout=t.election_max,
            connectionTimeout=t.connection_timeout,
            connectionRetryTime=t.connection_retry,
            leaderFallbackTimeout=t.leader_fallback,
            commandsWaitLeader=True,
            dynamicMembershipChange=True,
            bindAddress=self.bind_addr,
            journalFile=journal,
            fullDumpFile=str(self.snapshot_path),
            serializer=self._serialize,
            deserializer=self._deserialize,
            serializeChecker=self._snapshot_progress,
            logCompactionMinEntries=t.compaction_entries,
            logCompactionMinTime=t.compaction_seconds,
            # Never split an entry: pysyncobj's chunked path for large entries is fragile.
            appendEntriesBatchSizeBytes=4 * 1024 * 1024,
            logCompactionBatchSize=1024 * 1024,
            sendBufferSize=1024 * 1024,
            recvBufferSize=1024 * 1024,
            maxBindRetries=1,
            useFork=False,
            onStateChanged=self._on_state_changed,
        )
        try:
            so = _SyncObj(
                self.self_addr if self.voter else None,
                list(self.partners),
                conf,
                journal,
                self._on_entry,
            )
        except SyncObjException as e:
            journal.close()
            raise StoreError(
                f"cannot listen for raft on {self.bind_addr}: the address is in use or not "
                f"on this host ({e.errorCode})",
                address=self.bind_addr,
            ) from None
        except BaseException:
            journal.close()
            raise
        self._journal = journal
        self._wakeup.attach(so._poller)
        so.addOnTickCallback(journal.sync)  # before the poll: overlaps with followers' fsyncs
        self._so = so

    def close(self) -> None:
        self._stopping = True
        self._wakeup.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10.0)
        snap = self._snapshot_thread
        if snap is not None:
            snap.join(30.0)
        if self._so is not None and (self._thread is None or not self._thread.is_alive()):
            self._destroy_syncobj()
        self._wakeup.close()
        self._unlock_data_dir()

    def _destroy_syncobj(self) -> None:
        so, self._so = self._so, None
        if so is not None:
            with contextlib.suppress(Exception):
                so.destroy()  # closes sockets and the journal (syncs it, saves meta)

    def _lock_data_dir(self) -> None:
        fd = os.open(self.data_dir / "raft.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"raft data directory {self.data_dir} is in use by another process"
            ) from None
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- the tick thread -------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            try:
                so = self._so
                if so is None:
                    time.sleep(self.tuning.tick)
                    continue
                self._drain()
                assert self._journal is not None
                self._journal.sync()  # before the commit computation in doTick
                so.doTick(self.tuning.tick)
                self._ready.set()
                self._after_tick(so)
            except Exception:
                log.exception("raft tick failed; retrying")
                time.sleep(self.tuning.tick)
        self._destroy_syncobj()

    def _drain(self) -> None:
        with self._pending_lock:
            if not self._pending:
                return
            items, self._pending = self._pending, []
        limit = self.tuning.batch_bytes
        start = 0
        while start < len(items):
            size, end = 0, start
            while end < len(items) and (end == start or size + len(items[end][0]) <= limit):
                size += len(items[end][0])
                end += 1
            chunk = items[start:end]
            data = msgpack.Packer().pack_array_header(len(chunk)) + b"".join(p for p, _ in chunk)
            tokens = [t for _, t in chunk]
            self._so._qx_apply(data, callback=partial(self._entry_done, tokens))
            start = end

    def _entry_done(self, tokens: list[Token], result: Any, err: int) -> None:
        if err != FAIL_REASON.SUCCESS:
            self._on_failed(tokens, FAILURES.get(err, f"failure {err}"))

    def _after_tick(self, so: Any) -> None:
        journal = self._journal
        if journal is not None and journal.size_bytes > self.tuning.compaction_bytes:
            so.forceLogCompaction()
        if (
            not self.voter
            and any(n.id == self.self_addr for n in so.otherNodes)
            and so.raftLastApplied >= so.raftCommitIndex
        ):
            self._become_voter(so)

    def _become_voter(self, so: Any) -> None:
        """This replica's address was added as a voter: restart as one on the same files."""
        partners = sorted(n.id for n in so.otherNodes if n.id != self.self_addr)
        log.info("raft: %s was added as a voter; restarting as one", self.self_addr)
        self._destroy_syncobj()
        self.voter = True
        self.partners = partners
        while not self._stopping:
            try:
                self._open_syncobj()
                break
            except StoreError as e:
                log.error("raft: cannot start as a voter yet: %s", e.message)
                time.sleep(1.0)
        self.switched.set()

    def _on_state_changed(self, old: int, new: int) -> None:
        self._raft_state = new

    # -- snapshots (tick thread) ----------------------------------------------
    def _serialize(self, tmp_file: str, data: Any) -> None:
        """Start a snapshot of the state as of the last applied entry.

        The state is captured here, on the tick thread (a shallow copy: records
        are replaced, never changed in place); a background thread packs it,
        fsyncs it and renames it over the snapshot, and ``_snapshot_progress``
        then reports success so that pysyncobj cuts the journal only after the
        snapshot is durable. The tick thread, and so heartbeats and commits, go
        on meanwhile."""
        last, prev, cluster = data
        body = self._snapshot_state()
        body["last"] = [bytes(last[0]), int(last[1]), int(last[2])]
        body["prev"] = [bytes(prev[0]), int(prev[1]), int(prev[2])]
        body["cluster"] = sorted(n.id for n in cluster if n is not None)
        self._snapshot_result = None
        self._snapshot_thread = threading.Thread(
            target=self._write_snapshot, args=(body,), name="raft-snapshot", daemon=True
        )
        self._snapshot_thread.start()
        # pysyncobj renames tmp_file over the snapshot when this returns; raising
        # skips that (our thread renames its own file when it is complete).
        raise _SnapshotDeferred

    def _write_snapshot(self, body: dict[str, Any]) -> None:
        t0 = time.monotonic()
        tmp = self.data_dir / "raft.snapshot.next"
        try:
            write_snapshot(tmp, body)
            os.replace(tmp, self.snapshot_path)
            fsync_dir(self.data_dir)
        except Exception:
            log.exception("raft: writing the snapshot failed; the journal is kept")
            self._snapshot_result = SERIALIZER_STATE.FAILED
            return
        self.snapshots_written += 1
        self.last_snapshot_s = time.monotonic() - t0
        self._snapshot_result = SERIALIZER_STATE.SUCCESS
        self._wakeup.notify()

    def _snapshot_progress(self) -> int:
        """pysyncobj's serializeChecker: called every tick."""
        thread = self._snapshot_thread
        if thread is None:
            return int(SERIALIZER_STATE.NOT_SERIALIZING)
        if thread.is_alive():
            return int(SERIALIZER_STATE.SERIALIZING)
        self._snapshot_thread = None
        return int(self._snapshot_result or SERIALIZER_STATE.FAILED)

    def _deserialize(self, file_name: str) -> tuple[Any, Any, list[Any]]:
        snap = self._cached_snapshot
        self._cached_snapshot = None
        if snap is None:
            # A snapshot just received from the leader: make it durable before
            # pysyncobj clears the journal it replaces.
            path = Path(file_name)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(path.parent)
            try:
                snap = read_snapshot(path)
            except StoreError as e:
                log.error("raft: %s", e.message)
                raise
        last = (bytes(snap["last"][0]), int(snap["last"][1]), int(snap["last"][2]))
        prev = (bytes(snap["prev"][0]), int(snap["prev"][1]), int(snap["prev"][2]))
        self._restore_state(snap["state"], last[1])
        return last, prev, [TCPNode(a) for a in snap.get("cluster", [])]

    # -- called from other threads ---------------------------------------------
    def submit(self, payload: bytes, token: Token) -> None:
        with self._pending_lock:
            first = not self._pending
            self._pending.append((payload, token))
        if first:
            self._wakeup.notify()

    def change_membership(self, kind: str, addr: str, done: Callable[[str | None], None]) -> None:
        """Ask the leader to add (``"add"``) or remove (``"remove"``) voter ``addr``."""
        so = self._require()
        request = ["add" if kind == "add" else "rem", addr, addr]

        def callback(result: Any, err: int) -> None:
            done(None if err == FAIL_REASON.SUCCESS else FAILURES.get(err, f"failure {err}"))

        so._applyCommand(_pickle.dumps(request), callback, _COMMAND_TYPE.MEMBERSHIP)

    def transfer_leadership(self, done: Callable[[str | None], None]) -> None:
        so = self._require()

        def callback(result: Any, err: int) -> None:
            done(None if err == FAIL_REASON.SUCCESS else FAILURES.get(err, f"failure {err}"))

        so.transferLeadership(None, callback)

    def force_compaction(self) -> None:
        self._require().forceLogCompaction()
        self._wakeup.notify()

    def _require(self) -> Any:
        so = self._so
        if so is None:
            raise StoreError("the raft store is not running")
        return so

    def voters(self) -> list[str]:
        so = self._so
        if so is None:
            return []
        found = {n.id for n in so.otherNodes}
        if self.voter:
            found.add(self.self_addr)
        return sorted(found)

    def leader(self) -> str | None:
        so = self._so
        if so is None:
            return None
        node = so._getLeader()
        return None if node is None else str(node.id)

    def is_leader(self) -> bool:
        so = self._so
        return so is not None and bool(so._isLeader())

    def status(self) -> dict[str, Any]:
        so = self._so
        journal = self._journal
        if so is None:
            return {"role": "stopped", "leader": None, "voters": [], "has_quorum": False}
        others = so.otherNodes
        is_leader = so._isLeader()
        role = "replica" if not self.voter else _ROLES.get(self._raft_state, "follower")
        if is_leader:
            role = "leader"
        return {
            "role": role,
            "leader": self.leader(),
            "term": so.raftCurrentTerm,
            "commit_index": so.raftCommitIndex,
            "last_applied": so.raftLastApplied,
            "voters": self.voters(),
            "connected": sorted(n.id for n in others if so.isNodeConnected(n)),
            "replicas_connected": len(so.readonlyNodes) if is_leader else None,
            "has_quorum": bool(so.hasQuorum),
            "log_entries": len(journal) if journal is not None else 0,
            "journal_bytes": journal.size_bytes if journal is not None else 0,
            # The disk is full: the journal lives on its reserve (raft.reserve).
            "disk_reserve_in_use": bool(journal and journal.reserve and journal.reserve.in_use),
            "snapshots_written": self.snapshots_written,
            "last_snapshot_s": round(self.last_snapshot_s, 4),
        }
