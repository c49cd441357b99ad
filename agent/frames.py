"""Frames on the virtio-serial byte stream, the one definition both ends use.

A frame is a 12-byte header and a msgpack map (``agent.wire``)::

    magic  b"\\xa7QX"  3 bytes
    version           1 byte   (FRAME_VERSION; another is skipped or refused)
    length            4 bytes  big-endian, the payload's size (<= max_payload)
    crc32             4 bytes  big-endian, zlib.crc32 of the payload
    payload           length bytes

The port is a byte stream that outlives both ends: a host that reconnects, or a
guest agent that restarts, may find half a frame of the last session. So a
reader may *resync*: drop a byte and look for the next magic whose header and
CRC check out. The guest always resyncs. The host resyncs only before the first
good frame of a connection and within a budget; after that any bad byte is a
hostile or broken guest, and the connection is closed (``FrameError``).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

from agent.wire import WireError, packb, unpackb

MAGIC = b"\xa7QX"
FRAME_VERSION = 1
HEADER = struct.Struct(">3sBII")
HEADER_SIZE = HEADER.size
# Big enough for a capped file chunk or exec output with its envelope.
MAX_PAYLOAD = 4 * 1024 * 1024


class FrameError(ValueError):
    """The stream broke the framing rules; ``reason`` says how (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(msg: dict[str, Any], max_payload: int = MAX_PAYLOAD) -> bytes:
    payload = packb(msg)
    if len(payload) > max_payload:
        raise FrameError(f"message of {len(payload)} bytes exceeds {max_payload}")
    return HEADER.pack(MAGIC, FRAME_VERSION, len(payload), zlib.crc32(payload)) + payload


class FrameReader:
    """Incremental decoder: ``feed(bytes)`` returns the complete messages.

    ``skip_budget``: how many bytes it may drop while resyncing (None: any);
    ``strict_after_good``: once a good frame was read, refuse instead of resync.
    """

    def __init__(
        self,
        max_payload: int = MAX_PAYLOAD,
        skip_budget: int | None = None,
        strict_after_good: bool = False,
    ) -> None:
        self.max_payload = max_payload
        self.skip_budget = skip_budget
        self.strict_after_good = strict_after_good
        self.skipped = 0
        self.frames = 0
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held of a frame not yet complete."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (the other end went away)."""
        self._buf.clear()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return list(self.messages(data))

    def messages(self, data: bytes) -> Iterator[dict[str, Any]]:
        """Like ``feed``, yielding each message before a later error is raised."""
        self._buf += data
        while True:
            msg = self._next()
            if msg is None:
                return
            yield msg

    def _bad(self, reason: str) -> None:
        """Resync past a bad start, or refuse (FrameError)."""
        if self.strict_after_good and self.frames:
            raise FrameError(reason)
        i = self._buf.find(MAGIC, 1)
        drop = i if i > 0 else max(1, len(self._buf) - (len(MAGIC) - 1))
        self.skipped += drop
        if self.skip_budget is not None and self.skipped > self.skip_budget:
            raise FrameError(f"{reason}; {self.skipped} bytes skipped looking for a frame")
        del self._buf[:drop]

    def _next(self) -> dict[str, Any] | None:
        while True:
            if not self._buf:
                return None
            if not self._buf.startswith(MAGIC[: len(self._buf)]):
                self._bad("bytes that are not a frame")
                continue
            if len(self._buf) < HEADER_SIZE:
                return None
            _, version, length, crc = HEADER.unpack_from(self._buf)
            if version != FRAME_VERSION:
                self._bad(f"frame version {version}, expected {FRAME_VERSION}")
                continue
            if length > self.max_payload:
                self._bad(f"frame length {length} exceeds {self.max_payload}")
                continue
            if len(self._buf) < HEADER_SIZE + length:
                return None
            payload = bytes(self._buf[HEADER_SIZE : HEADER_SIZE + length])
            if zlib.crc32(payload) != crc:
                self._bad("frame checksum mismatch")
                continue
            try:
                msg = unpackb(payload)
            except WireError as e:
                self._bad(f"payload is not msgpack: {e}")
                continue
            if not isinstance(msg, dict):
                self._bad("payload is not a map")
                continue
            del self._buf[: HEADER_SIZE + length]
            self.frames += 1
            return msg
