"""Disk space held back for the Raft journal.

A file of ``size`` bytes next to the journal, made when the node opens its
journal. When a journal write fails with ENOSPC (something else filled the
disk), the file is given up and the write retried: the node keeps committing,
so its lease stays alive and it can publish that its disk is full, instead of
going silent and fencing itself over a disk it shares with VM images and logs.
``in_use`` says the reserve is being eaten into; once the disk has room again
(twice the reserve free) the file is made again, checked every ``retry_every``
seconds from the tick thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

RESERVE_NAME = "raft.reserve"
DEFAULT_SIZE = 8 << 20


class SpaceReserve:
    """Used from the tick thread only (after construction)."""

    def __init__(
        self,
        path: Path,
        size: int = DEFAULT_SIZE,
        *,
        retry_every: float = 5.0,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.size = size
        self.retry_every = retry_every
        self.mono = mono
        self.in_use = False
        self._next_try = 0.0
        if not self._make():
            self.in_use = True  # could not hold any back: the disk is already full

    def _make(self) -> bool:
        if self.size <= 0:
            return True
        try:
            if self.path.exists() and self.path.stat().st_size >= self.size:
                return True
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError:
            with contextlib.suppress(OSError):
                self.path.unlink()
            return False

    def release(self) -> bool:
        """Give the reserve up (the disk is full); True if that freed space."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError:
            return False
        self.in_use = True
        self._next_try = self.mono() + self.retry_every
        log.warning(
            "the disk holding the raft journal is full: released its %d MiB reserve",
            self.size >> 20,
        )
        return True

    def maybe_restore(self) -> None:
        """Make the reserve again once the disk has room (at most every retry_every s)."""
        if not self.in_use or self.mono() < self._next_try:
            return
        self._next_try = self.mono() + self.retry_every
        try:
            st = os.statvfs(self.path.parent)
        except OSError:
            return
        if st.f_bavail * st.f_frsize >= 2 * self.size and self._make():
            self.in_use = False
            log.warning("the raft journal's disk has room again: its reserve is back")
