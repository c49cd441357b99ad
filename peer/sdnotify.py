"""systemd's notify protocol, for the peer's unit on Quantix-OS (``Type=notify``,
``WatchdogSec=``): ``READY=1`` once the API serves, then ``WATCHDOG=1`` from the
event loop at half the watchdog interval, so a loop that hangs gets the peer
killed and restarted. Without ``$NOTIFY_SOCKET`` (the lab, tests, a shell) every
call does nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket


def notify(message: str, env: dict[str, str] | None = None) -> bool:
    """Send one datagram to systemd; False when not running under systemd."""
    path = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not path:
        return False
    if path.startswith("@"):  # an abstract socket
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.sendall(message.encode())
    return True


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """Seconds between pings (half of ``$WATCHDOG_USEC``), or None when the unit has
    no watchdog for this process."""
    e = env if env is not None else os.environ
    usec, pid = e.get("WATCHDOG_USEC", ""), e.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000


async def ping_watchdog(interval: float) -> None:
    """Ping until cancelled. Runs on the peer's event loop: that is what it vouches for."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
