"""Run daemons in the foreground and start them again when they exit."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from hypervisor.ovnhost import Daemon

log = logging.getLogger("peer.net")

BACKOFF_MAX = 10.0


def _kill_stale(pidfile: Path | None) -> None:
    """A daemon left by an earlier peer process (kill -9 of the peer alone)."""
    if pidfile is None:
        return
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


class Supervised:
    """One daemon: ``ensure()`` starts it if it is not running (with a growing
    pause after quick exits); ``stop()`` ends it."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._next = 0.0
        self._backoff = 0.5

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure(self, now: float) -> bool:
        """True if it was (re)started now."""
        if self.running or now < self._next:
            return False
        if self.proc is not None:
            log.warning("%s exited (%s): starting it again", self.daemon.name, self.proc.returncode)
        else:
            _kill_stale(self.daemon.pidfile)
        env = {**os.environ, **self.daemon.env}
        self.proc = subprocess.Popen(
            list(self.daemon.argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1
        self._next = now + self._backoff
        self._backoff = min(BACKOFF_MAX, self._backoff * 2) if self.starts > 1 else self._backoff
        return True

    def healthy_for(self, seconds: float, now: float) -> None:
        """Reset the backoff once it has run for a while."""
        if self.running and now > self._next + seconds:
            self._backoff = 0.5

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc is not None else None
