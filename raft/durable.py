"""What the Raft node keeps on disk: a checksummed, fsynced log, the term/vote
metadata and the snapshot file.

Nothing here imports pysyncobj. ``DurableJournal`` implements the interface
pysyncobj's log expects (``add``, ``deleteEntriesFrom``, ``setCurrentTerm``, ...)
by duck typing; ``raft/pysyncobj_adapter.py`` plugs it in.

Why not pysyncobj's FileJournal: it never fsyncs (an acknowledged entry can
vanish with the page cache), it writes records in place through mmap with no
checksum (a torn write loads as garbage), its prefix deletion rewrites the file
in place (a crash in the middle loses the log), and its term/vote file is
replaced without fsync.

Files in the data directory:

``raft.journal``
    ``MAGIC`` then records ``<u32 length><u32 crc32><u64 index><u64 term><command>``
    where ``length`` counts index, term and command and the CRC covers them.
    Appends are buffered and made durable by ``sync()`` (one write + one
    fdatasync for everything appended since the last call: group commit). The
    adapter calls ``sync()`` before this node acknowledges an entry to the
    leader and before the leader counts its own copy towards a majority.
    Prefix deletion (after a snapshot) writes the remaining entries to a new
    file and renames it over the old one.
``raft.meta``
    current term, vote and last known commit index, replaced atomically
    (write, fsync, rename, fsync the directory) on every term or vote change,
    and with a changed commit index alone at most every ``META_COMMIT_EVERY`` s.
``raft.snapshot``
    the state machine and the two log entries it ends with, with a CRC.

Damage policy (see docs/raft.md): a record that fails its checksum with no valid
record after it is a torn final write. It was never fsynced, so it was never
acknowledged, and cutting it is safe: the journal is cut there with a warning.
Damage followed by valid records, or more damage than one write batch can
leave, is not explained by a crash: ``CorruptJournal`` is raised and the node
refuses to start rather than load garbage or drop entries it promised to keep.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import msgpack

from raft.errors import CorruptJournal
from raft.reserve import SpaceReserve

log = logging.getLogger(__name__)

JOURNAL_MAGIC = b"QXJRNL01"
META_MAGIC = b"QXMETA01"
SNAP_MAGIC = b"QXSNAP01"
_REC = struct.Struct("<II")  # payload length, crc32 of the payload
_IDX = struct.Struct("<QQ")  # index, term (the payload starts with these)
# Seconds between saves of the commit index alone (term and vote are saved at once).
META_COMMIT_EVERY = 10
_BLOB = struct.Struct("<IQ")  # crc32, body length (meta and snapshot files)
# No single log entry is larger than this (the store caps its batches far lower).
MAX_RECORD = 64 * 1024 * 1024
# More damage than this after the last good record cannot be one torn write.
MAX_TORN_TAIL = 16 * 1024 * 1024
# How many entries past the damage a resync probe looks for.
_RESYNC_PROBE = 256

Entry = tuple[bytes, int, int]  # (command, index, term), as pysyncobj stores them


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: write a temp file, fsync, rename, fsync the dir."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def encode_blob(magic: bytes, body: bytes) -> bytes:
    return magic + _BLOB.pack(zlib.crc32(body), len(body)) + body


def decode_blob(magic: bytes, data: bytes, path: Path, what: str) -> bytes:
    """Check magic, length and CRC of a meta or snapshot file; return the body."""
    head = len(magic) + _BLOB.size
    if not data.startswith(magic) or len(data) < head:
        raise CorruptJournal(
            f"{what} {path} is not a Quantix {what} file (bad header); refusing to load it",
            path=str(path),
        )
    crc, length = _BLOB.unpack_from(data, len(magic))
    body = data[head : head + length]
    if len(body) != length or zlib.crc32(body) != crc:
        raise CorruptJournal(
            f"{what} {path} is damaged (its checksum does not match; {len(data)} bytes on "
            f"disk, {head + length} expected). It is written atomically, so this is disk "
            "damage, not a crash: move the data directory away and let this node rejoin "
            "to copy the state from the others",
            path=str(path),
        )
    return body


# -- snapshot file ---------------------------------------------------------


def _pack_chunks(obj: Any, packer: Any, depth: int) -> Any:
    """msgpack ``obj`` in pieces (large maps and lists item by item), so that a
    background thread packing a big state lets other threads run between
    pieces. The pieces joined equal ``packb(obj)``."""
    if depth > 0 and isinstance(obj, dict) and len(obj) > 64:
        yield packer.pack_map_header(len(obj))
        for k, v in obj.items():
            yield packer.pack(k)
            yield from _pack_chunks(v, packer, depth - 1)
    elif depth > 0 and isinstance(obj, list) and len(obj) > 64:
        yield packer.pack_array_header(len(obj))
        for v in obj:
            yield from _pack_chunks(v, packer, depth - 1)
    else:
        yield packer.pack(obj)


def write_snapshot(path: Path, body: dict[str, Any]) -> int:
    """Write a snapshot file at ``path`` (not atomically: callers write a temp
    name and rename). Fsyncs the file. Returns its size."""
    packer = msgpack.Packer(use_bin_type=True)
    data = encode_blob(SNAP_MAGIC, b"".join(_pack_chunks(body, packer, 4)))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(data)


def read_snapshot(path: Path) -> dict[str, Any]:
    """Read and verify a snapshot file; raise CorruptJournal if it is damaged."""
    body = decode_blob(SNAP_MAGIC, path.read_bytes(), path, "snapshot")
    try:
        snap = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as e:  # a CRC-valid body that does not decode: a bug, not a crash
        raise CorruptJournal(f"snapshot {path} does not decode: {e}", path=str(path)) from None
    if not isinstance(snap, dict) or "last" not in snap or "prev" not in snap:
        raise CorruptJournal(f"snapshot {path} lacks its log position", path=str(path))
    return snap


# -- the journal -------------------------------------------------------------


def _record(command: bytes, idx: int, term: int) -> bytes:
    payload = _IDX.pack(idx, term) + command
    return _REC.pack(len(payload), zlib.crc32(payload)) + payload


class DurableJournal:
    """pysyncobj's log interface over an append-only, checksummed, fsynced file.

    Used from one thread (pysyncobj's tick thread) after construction.
    """

    def __init__(
        self,
        path: Path,
        meta_path: Path,
        *,
        fsync: bool = True,
        reserve: SpaceReserve | None = None,
    ) -> None:
        self.path = path
        # Space given up when a write finds the disk full (raft.reserve).
        self.reserve = reserve
        self.meta_path = meta_path
        self._fsync = fsync
        self._entries: list[Entry] = []
        self._offsets: list[int] = []  # file offset of each entry's record
        self._buf: list[bytes] = []  # records appended but not yet written
        self._written = 0  # bytes of the file that hold written records
        self._end = 0  # logical end: written + buffered
        self._dirty = False  # written or truncated since the last fdatasync
        self._meta: dict[str, Any] = self._load_meta()
        self._meta_saved_commit = self._meta.get("commit_index", 1)
        self._meta_ticks = 0
        self._fd = -1
        self.cut_bytes = 0  # how much torn tail the load cut (for status and tests)
        self._load()

    # -- loading -----------------------------------------------------------
    def _load_meta(self) -> dict[str, Any]:
        try:
            data = self.meta_path.read_bytes()
        except FileNotFoundError:
            return {}
        body = decode_blob(META_MAGIC, data, self.meta_path, "raft metadata")
        meta = msgpack.unpackb(body, raw=False)
        if not isinstance(meta, dict):
            raise CorruptJournal(f"raft metadata {self.meta_path} is not a mapping")
        return meta

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        if not data:
            self._rewrite([])
            return
        if not data.startswith(JOURNAL_MAGIC):
            raise CorruptJournal(
                f"raft journal {self.path} does not start with the journal header; "
                "it is not a Quantix journal or its first block is damaged",
                path=str(self.path),
            )
        pos = len(JOURNAL_MAGIC)
        size = len(data)
        last_idx = 0
        bad: str | None = None
        while pos < size:
            if pos + _REC.size + _IDX.size > size:
                bad = "an incomplete record header"
                break
            length, crc = _REC.unpack_from(data, pos)
            if length < _IDX.size or length > MAX_RECORD or pos + _REC.size + length > size:
                bad = f"a record length of {length} bytes that runs past the end"
                break
            payload = data[pos + _REC.size : pos + _REC.size + length]
            if zlib.crc32(payload) != crc:
                bad = "a record whose checksum does not match"
                break
            idx, term = _IDX.unpack_from(payload)
            if self._entries and idx != last_idx + 1:
                raise CorruptJournal(
                    f"raft journal {self.path}: entry {idx} follows entry {last_idx} at byte "
                    f"{pos}; the log has a gap, refusing to load it",
                    path=str(self.path),
                    offset=pos,
                )
            self._entries.append((payload[_IDX.size :], idx, term))
            self._offsets.append(pos)
            last_idx = idx
            pos += _REC.size + length
        if bad is not None:
            self._handle_damage(data, pos, last_idx, bad)
        self._fd = os.open(self.path, os.O_RDWR)
        if bad is not None:
            os.ftruncate(self._fd, pos)
            os.fsync(self._fd)
        self._written = self._end = pos

    def _handle_damage(self, data: bytes, pos: int, last_idx: int, what: str) -> None:
        tail = len(data) - pos
        after = self._valid_record_after(data, pos, last_idx)
        if after is not None or tail > MAX_TORN_TAIL:
            why = (
                f"a valid entry ({after[1]}) follows at byte {after[0]}"
                if after is not None
                else f"{tail} damaged bytes follow, more than one write can leave"
            )
            raise CorruptJournal(
                f"raft journal {self.path} is damaged at byte {pos} (after entry {last_idx}): "
                f"{what}, and {why}. That is not a torn final write from a crash, so entries "
                "this node acknowledged may be lost; refusing to start. Move the data "
                "directory away and let this node rejoin: it copies the state from the others",
                path=str(self.path),
                offset=pos,
            )
        self.cut_bytes = tail
        log.warning(
            "raft journal %s: cut a torn tail of %d bytes at byte %d (%s) after entry %d; "
            "it was never fsynced, so never acknowledged, and the leader will resend "
            "anything this node is missing",
            self.path,
            tail,
            pos,
            what,
            last_idx,
        )

    @staticmethod
    def _valid_record_after(data: bytes, pos: int, last_idx: int) -> tuple[int, int] | None:
        """Find a checksum-valid record after ``pos`` whose index is one of the
        next few after ``last_idx``; return (offset, index) or None."""
        base = last_idx if last_idx else 0
        for k in range(1, _RESYNC_PROBE + 1):
            pattern = _IDX.pack(base + k, 0)[:8]
            start = pos + 1
            while True:
                at = data.find(pattern, start)
                if at < 0:
                    break
                rec = at - _REC.size
                start = at + 1
                if rec <= pos:
                    continue
                length, crc = _REC.unpack_from(data, rec)
                end = rec + _REC.size + length
                if (
                    _IDX.size <= length <= MAX_RECORD
                    and end <= len(data)
                    and zlib.crc32(data[rec + _REC.size : end]) == crc
                ):
                    return rec, base + k
        return None

    # -- durability ----------------------------------------------------------
    def sync(self) -> None:
        """Make every entry appended so far durable (one write, one fdatasync)."""
        if self._buf:
            data = b"".join(self._buf)
            try:
                self._write_at_end(data)
            except OSError as e:
                # Disk full: give up the reserve (raft.reserve) and try once more.
                if e.errno != errno.ENOSPC or self.reserve is None or not self.reserve.release():
                    raise
                self._write_at_end(data)
            self._buf.clear()
            self._written += len(data)
            self._dirty = True
        if self._dirty:
            if self._fsync:
                os.fdatasync(self._fd)
            self._dirty = False
        if self.reserve is not None and self.reserve.in_use:
            self.reserve.maybe_restore()

    def _write_at_end(self, data: bytes) -> None:
        try:
            _write_all(self._fd, data, self._written)
        except OSError:
            # Disk full or failing: cut what part of it landed so the file ends at
            # the last whole record, and keep the records buffered for the next
            # attempt. The caller acknowledges nothing until a sync succeeds, and
            # the log never gets a gap (a later write would otherwise land after
            # the lost records' place).
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._written)
            raise

    @property
    def needs_sync(self) -> bool:
        return self._dirty or bool(self._buf)

    @property
    def size_bytes(self) -> int:
        return self._end

    def _rewrite(self, entries: list[Entry]) -> None:
        """Replace the file with one holding ``entries``, atomically and durably."""
        # Make earlier renames (the snapshot that made a prefix deletable) durable
        # before the journal that no longer holds that prefix can replace the old one.
        fsync_dir(self.path.parent)
        offsets = []
        parts = [JOURNAL_MAGIC]
        pos = len(JOURNAL_MAGIC)
        for command, idx, term in entries:
            rec = _record(command, idx, term)
            offsets.append(pos)
            parts.append(rec)
            pos += len(rec)
        atomic_write(self.path, b"".join(parts))
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR)
        self._entries = list(entries)
        self._offsets = offsets
        self._buf.clear()
        self._written = self._end = pos
        self._dirty = False

    # -- pysyncobj's log interface ---------------------------------------------
    def add(self, command: bytes, idx: int, term: int) -> None:
        rec = _record(bytes(command), idx, term)
        self._entries.append((bytes(command), idx, term))
        self._offsets.append(self._end)
        self._buf.append(rec)
        self._end += len(rec)

    def clear(self) -> None:
        self._rewrite([])

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        if entryFrom >= len(self._entries):
            return
        cut = self._offsets[entryFrom]
        del self._entries[entryFrom:]
        del self._offsets[entryFrom:]
        if self._buf:  # write what is buffered so the file offsets are real
            data = b"".join(self._buf)
            self._buf.clear()
            _write_all(self._fd, data, self._written)
            self._written += len(data)
        os.ftruncate(self._fd, cut)
        self._written = self._end = cut
        self._dirty = True  # the truncation is made durable by the next sync()

    def deleteEntriesTo(self, entryTo: int) -> None:
        self._rewrite(self._entries[entryTo:])

    def __getitem__(self, item: Any) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def _destroy(self) -> None:
        self.close()

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        # Saved lazily (onOneSecondTimer): commit index is volatile in Raft; it only
        # lets a restarted node apply its log before it hears from a leader.
        self._meta["commit_index"] = raftCommitIndex

    def getRaftCommitIndex(self) -> int:
        # Never past the last entry on disk: a restarted node must not treat
        # entries it no longer holds (a cut tail) as committed.
        last = self._entries[-1][1] if self._entries else 1
        return min(int(self._meta.get("commit_index", 1)), last)

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:
        # Raft: term and vote are durable before any message that reflects them.
        self._meta["term"] = term
        self._meta["voted_for"] = None if votedForNodeId is None else str(votedForNodeId)
        self._save_meta()

    def getCurrentTerm(self) -> int:
        return int(self._meta.get("term", 0))

    def getVotedForNodeId(self) -> str | None:
        v = self._meta.get("voted_for")
        return None if v is None else str(v)

    def onOneSecondTimer(self) -> None:
        # The commit index moves with every lease renewal (each second): saving it
        # each time cost two fsyncs and a rename per second on an idle cluster.
        # It is only a hint for a restarted node (see setRaftCommitIndex), so a
        # value up to META_COMMIT_EVERY seconds old loses nothing but that head start.
        self._meta_ticks += 1
        if self._meta_ticks < META_COMMIT_EVERY:
            return
        self._meta_ticks = 0
        if self._meta.get("commit_index", 1) != self._meta_saved_commit:
            self._save_meta()

    def _save_meta(self) -> None:
        # The saved commit index must never point past durable entries.
        self.sync()
        body = msgpack.packb(self._meta, use_bin_type=True)
        atomic_write(self.meta_path, encode_blob(META_MAGIC, body))
        self._meta_saved_commit = self._meta.get("commit_index", 1)

    def close(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self.sync()
            self._save_meta()
        os.close(self._fd)
        self._fd = -1
