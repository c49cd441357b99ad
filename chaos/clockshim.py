"""Run a Python program with its wall clock offset by what a file says (clock faults).

    python -m chaos.clockshim OFFSET_FILE -- PROGRAM [ARGS...]

``time.time()`` and ``time.time_ns()`` return the real time plus the number of
seconds in OFFSET_FILE (re-read at most every 0.2 s; missing or unreadable: 0),
so writing ``60`` to the file jumps the program's wall clock forward a minute
while it runs, and ``0`` puts it back. The monotonic clock is untouched, as on a
real host whose clock is stepped (NTP, an operator, a bad RTC).

Why not libfaketime: its 0.9.10 (Debian 12) fails ``clock_nanosleep`` with
EINVAL when the monotonic clock is left real, and hangs sleeps when it is faked;
the product stamps commands and leases with ``time.time()``, which this reaches.
"""

from __future__ import annotations

import runpy
import sys
import threading
import time

_REFRESH_S = 0.2


class _Offset:
    def __init__(self, path: str) -> None:
        self.path = path
        self.value = 0.0
        self.read_at = -1e9
        self.lock = threading.Lock()

    def get(self) -> float:
        now = time.monotonic()
        if now - self.read_at >= _REFRESH_S:
            with self.lock:
                try:
                    with open(self.path) as f:
                        self.value = float(f.read().strip() or 0)
                except (OSError, ValueError):
                    self.value = 0.0
                self.read_at = now
        return self.value


def install(path: str) -> None:
    """Patch the time module of this process (the whole program sees it)."""
    offset = _Offset(path)
    real_time, real_time_ns = time.time, time.time_ns

    def fake_time() -> float:
        return real_time() + offset.get()

    def fake_time_ns() -> int:
        return real_time_ns() + int(offset.get() * 1e9)

    time.time = fake_time
    time.time_ns = fake_time_ns


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m chaos.clockshim OFFSET_FILE -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    install(argv[0])
    sys.argv = argv[2:]
    runpy.run_path(argv[2], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
