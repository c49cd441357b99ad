"""Receiving an uploaded file into a pool directory: stream, hash, limit, rename.

The bytes go to a hidden temporary file next to their final name (same
directory, so the final ``os.replace`` is atomic and never copies); the SHA-256
is computed while writing. Whatever goes wrong — too many bytes, a short body,
a checksum that does not match, a full disk — the temporary file is removed, so
a failed upload leaves nothing in the pool.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path


class UploadRefused(Exception):
    """The upload cannot be accepted; ``code`` is the API's stable code."""

    def __init__(self, message: str, code: str, status: int = 400, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details


class UploadSink:
    """One upload in progress. Call ``write`` per chunk, then ``finish`` or ``abort``.

    ``write``/``finish``/``abort`` block on disk I/O: run them in a thread.
    """

    def __init__(self, final: Path, limit: int, expected_size: int | None = None) -> None:
        self.final = final
        self.limit = limit
        self.expected_size = expected_size
        self.temp = final.parent / f".{final.name}.{secrets.token_hex(4)}.part"
        self.size = 0
        self._digest = hashlib.sha256()
        final.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL and O_NOFOLLOW: never write through a file or link someone else put there.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.temp, flags, 0o640)
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise UploadRefused(
                f"the upload is larger than the limit of {self.limit} bytes",
                "too_large",
                413,
                limit=self.limit,
            )
        self._digest.update(chunk)
        try:
            self._file.write(chunk)
        except OSError as e:
            raise UploadRefused(
                f"cannot write to the pool: {e.strerror}", "write_failed", 409
            ) from None

    def finish(self, sha256: str | None) -> tuple[int, str]:
        """Check size and checksum, make the file durable and give it its final
        name. Returns (size, sha256)."""
        got = self._digest.hexdigest()
        if self.expected_size is not None and self.size != self.expected_size:
            raise UploadRefused(
                f"got {self.size} bytes, expected {self.expected_size}",
                "incomplete_upload",
                400,
                expected=self.expected_size,
                received=self.size,
            )
        if sha256 and got != sha256.lower():
            raise UploadRefused(
                f"the upload's sha256 is {got}, not the declared {sha256}",
                "checksum_mismatch",
                422,
                expected=sha256.lower(),
                actual=got,
            )
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.temp, self.final)
        except OSError as e:
            raise UploadRefused(
                f"cannot store the upload: {e.strerror}", "write_failed", 409
            ) from None
        return self.size, got

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()
