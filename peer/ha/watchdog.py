"""The host's hardware watchdog: the fence of last resort on a real host.

While the peer holds its lease it feeds ``/dev/watchdog``; when it fences itself it
stops feeding for good, so the host resets even if stopping the guests hangs or
the whole process is stuck. Disabled (a no-op that says so in the log) unless the
node's configuration turns it on — never in the lab, where a reset would take the
machine down with all its simulated hosts.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_DEVICE = Path("/dev/watchdog")
# linux/watchdog.h: _IOWR('W', 6, int)
WDIOC_SETTIMEOUT = 0xC0045706


class Watchdog:
    """``open`` once, ``feed`` after each lease renewal, ``stop`` when fencing
    (permanent), ``close`` only on an orderly daemon shutdown (disarms it)."""

    def __init__(
        self, enabled: bool, device: Path = DEFAULT_DEVICE, timeout: int | None = None
    ) -> None:
        self.enabled = enabled
        self.device = device
        # Seconds without a feed before the host resets; at most fence_after, so the
        # reset lands before the leader restarts anything (docs/ha.md, timings).
        self.timeout = timeout
        self._fd: int | None = None
        self.stopped = False

    @classmethod
    def from_config(cls, config: Any) -> Watchdog:
        """From the node configuration's ``watchdog`` flag (off when absent); the
        timeout is ``fence_after`` rounded down."""
        fence_after = getattr(config, "fence_after", None)
        timeout = max(1, int(fence_after)) if isinstance(fence_after, (int, float)) else None
        return cls(bool(getattr(config, "watchdog", False)), timeout=timeout)

    def open(self) -> None:
        if not self.enabled:
            log.info("hardware watchdog disabled by configuration: fencing relies on the peer")
            return
        if not self.device.exists():
            log.warning("hardware watchdog enabled but %s does not exist: not armed", self.device)
            return
        # Opening arms the timer: from now on the host resets unless fed.
        self._fd = os.open(self.device, os.O_WRONLY)
        if self.timeout is not None:
            try:
                fcntl.ioctl(self._fd, WDIOC_SETTIMEOUT, struct.pack("i", self.timeout))
            except OSError as e:
                log.warning("cannot set the watchdog timeout to %d s: %s", self.timeout, e)
        log.info("hardware watchdog %s armed (timeout %s s)", self.device, self.timeout)

    @property
    def armed(self) -> bool:
        return self._fd is not None

    def feed(self) -> None:
        if self._fd is not None and not self.stopped:
            os.write(self._fd, b"\0")

    def stop(self) -> None:
        """Stop feeding for good: an armed host resets when the timer runs out."""
        if not self.stopped:
            self.stopped = True
            if self._fd is not None:
                log.critical("fenced: no longer feeding %s, the host will reset", self.device)
            else:
                log.warning("fenced: hardware watchdog not armed, nothing to stop feeding")

    def close(self) -> None:
        """Release the device. Before a fence this disarms it (the magic 'V'), for
        an orderly shutdown; after a fence it closes without the magic character,
        which leaves the timer running (the host still resets)."""
        if self._fd is None:
            return
        if not self.stopped:
            os.write(self._fd, b"V")
        os.close(self._fd)
        self._fd = None
