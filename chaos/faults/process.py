"""Process faults: kill -9 of a host, SIGSTOP/SIGCONT, a peer crash alone, a power cycle.

The lab has no hardware watchdog, so the harness plays it: the peer feeds the
watchdog and its timeout equals ``fence_after`` (docs/ha.md), so a host whose
peer is frozen or gone for ``watchdog_s`` is reset (kill -9 of everything on it)
and booted again when the fault ends. Without this, a frozen host's guests
would outlive their fencing deadline, which no real host does.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from chaos.faults.base import Fault
from chaos.lab import Lab, wait_for

DEFAULT_WATCHDOG_S = 6.0


def netns_pids(netns: str) -> list[int]:
    import subprocess

    res = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
    )
    return [int(p) for p in res.stdout.split() if p.isdigit()]


def signal_netns(netns: str, sig: signal.Signals) -> int:
    n = 0
    for pid in netns_pids(netns):
        try:
            os.kill(pid, sig)
            n += 1
        except ProcessLookupError:
            pass
    return n


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def peer_running(lab: Lab, host: str) -> bool:
    pid = lab.host(host).pid
    return pid is not None and pid_alive(pid)


def boot(lab: Lab, host: str) -> None:
    """Start a host's peer unless it runs."""
    if not peer_running(lab, host):
        lab.start(host)


class KillHost(Fault):
    """kill -9 of every process on the hosts (peer and guests); booted again on heal."""

    kind = "kill9"

    def __init__(self, lab: Lab, hosts: list[str]) -> None:
        super().__init__(hosts)
        self.lab = lab

    def inject(self) -> None:
        for h in self.hosts:
            self.lab.kill(h)

    def heal(self) -> None:
        for h in self.hosts:
            boot(self.lab, h)


class PowerCycle(KillHost):
    """Every host killed at once, then all booted again."""

    kind = "power_cycle"

    def up_hosts(self, everyone: list[str]) -> list[str]:
        return []

    def whole_cluster_down(self) -> bool:
        return True


class PauseHost(Fault):
    """SIGSTOP of every process on the hosts, SIGCONT on heal; reset by the watchdog
    if frozen for ``watchdog_s``."""

    kind = "pause"

    def __init__(self, lab: Lab, hosts: list[str], watchdog_s: float = DEFAULT_WATCHDOG_S) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.watchdog_s = watchdog_s
        self.reset: set[str] = set()

    def params(self) -> dict[str, Any]:
        return {"watchdog_s": self.watchdog_s, "reset_by_watchdog": sorted(self.reset)}

    def inject(self) -> None:
        for h in self.hosts:
            signal_netns(self.lab.host(h).netns, signal.SIGSTOP)

    def tick(self, elapsed: float) -> None:
        if elapsed >= self.watchdog_s:
            for h in self.hosts:
                if h not in self.reset:
                    self.reset.add(h)
                    self.notes.append(f"watchdog reset {h} after {elapsed:.1f} s frozen")
                    self.lab.kill(h)

    def heal(self) -> None:
        for h in self.hosts:
            if h in self.reset:
                boot(self.lab, h)
            else:
                signal_netns(self.lab.host(h).netns, signal.SIGCONT)


class CrashPeer(Fault):
    """kill -9 of the peer daemon alone (its guests keep running); restarted on heal.
    A peer gone for ``watchdog_s`` stops feeding the watchdog: the host is reset."""

    kind = "peer_crash"

    def __init__(self, lab: Lab, hosts: list[str], watchdog_s: float = DEFAULT_WATCHDOG_S) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.watchdog_s = watchdog_s
        self.reset: set[str] = set()

    def params(self) -> dict[str, Any]:
        return {"watchdog_s": self.watchdog_s, "reset_by_watchdog": sorted(self.reset)}

    def inject(self) -> None:
        for h in self.hosts:
            pid = self.lab.host(h).pid
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            wait_for(lambda p=pid: not pid_alive(p), 10)  # type: ignore[misc]

    def tick(self, elapsed: float) -> None:
        if elapsed >= self.watchdog_s:
            for h in self.hosts:
                if h not in self.reset:
                    self.reset.add(h)
                    self.notes.append(f"watchdog reset {h} after its peer was gone {elapsed:.1f} s")
                    self.lab.kill(h)

    def heal(self) -> None:
        for h in self.hosts:
            boot(self.lab, h)
