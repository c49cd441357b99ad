"""Process faults: kill -9 of a host, SIGSTOP/SIGCONT, a peer crash alone, a power cycle.

The lab has no hardware watchdog, so the harness plays it. On a real host the
peer feeds the watchdog each time it renews its lease (peer/ha/lease.py) and the
timeout is ``fence_after``; a dead process does not disarm it. So a host whose
peer is frozen or gone is reset (kill -9 of everything on it, then booted) unless
its lease is renewed again within ``watchdog_s`` of the fault's start: while the
fault holds (frozen or gone that long), or after healing (the peer came back but
did not renew in time). Without this, a frozen host's guests would outlive their
fencing deadline, which no real host does.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from chaos.client import PeerClient
from chaos.faults.base import Fault
from chaos.lab import Lab, poll_until

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


def renewed_since(clients: dict[str, PeerClient], host: str, seconds_ago: float) -> bool:
    """Has ``host`` renewed its lease in the last ``seconds_ago`` s, as another peer sees it?"""
    for other, c in sorted(clients.items()):
        if other == host:
            continue
        r = c.get("/cluster", timeout=1.0)
        if r.status != 200 or not isinstance(r.body, dict):
            continue
        for m in r.body.get("members", []):
            if m.get("hostname") == host and m.get("lease_age_s") is not None:
                return float(m["lease_age_s"]) < seconds_ago
    return False


class Watchdog:
    """The emulated hardware watchdog of some hosts, armed at the fault's start."""

    def __init__(self, lab: Lab, clients: dict[str, PeerClient] | None, timeout_s: float) -> None:
        self.lab, self.clients, self.timeout_s = lab, clients or {}, timeout_s
        self.armed_at = time.monotonic()
        self.reset: set[str] = set()

    def arm(self) -> None:
        self.armed_at = time.monotonic()

    def fire(self, host: str, why: str, notes: list[str]) -> None:
        if host not in self.reset:
            self.reset.add(host)
            notes.append(f"watchdog reset {host}: {why}")
            self.lab.kill(host)

    def after_heal(self, hosts: list[str], notes: list[str]) -> None:
        """Hosts back from the fault must renew before the timeout, or are reset and booted."""
        if not self.clients:
            return
        left = [h for h in hosts if h not in self.reset]
        deadline = self.armed_at + self.timeout_s
        while left and time.monotonic() < deadline:
            since = time.monotonic() - self.armed_at
            left = [h for h in left if not renewed_since(self.clients, h, since)]
            if left:
                time.sleep(0.2)
        for h in left:
            self.fire(h, f"no lease renewal within {self.timeout_s:g} s of the fault", notes)
            boot(self.lab, h)


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


class WatchedFault(Fault):
    """A fault on hosts whose (emulated) hardware watchdog may reset them."""

    def __init__(
        self,
        lab: Lab,
        hosts: list[str],
        watchdog_s: float = DEFAULT_WATCHDOG_S,
        clients: dict[str, PeerClient] | None = None,
    ) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.watchdog = Watchdog(lab, clients, watchdog_s)

    def params(self) -> dict[str, Any]:
        return {
            "watchdog_s": self.watchdog.timeout_s,
            "reset_by_watchdog": sorted(self.watchdog.reset),
        }


class PauseHost(WatchedFault):
    """SIGSTOP of every process on the hosts, SIGCONT on heal; reset by the watchdog
    if frozen for ``watchdog_s`` or not renewing its lease in time after."""

    kind = "pause"

    def inject(self) -> None:
        self.watchdog.arm()
        for h in self.hosts:
            signal_netns(self.lab.host(h).netns, signal.SIGSTOP)

    def tick(self, elapsed: float) -> None:
        if elapsed >= self.watchdog.timeout_s:
            for h in self.hosts:
                self.watchdog.fire(h, f"frozen {elapsed:.1f} s", self.notes)

    def heal(self) -> None:
        for h in self.hosts:
            if h in self.watchdog.reset:
                boot(self.lab, h)
            else:
                signal_netns(self.lab.host(h).netns, signal.SIGCONT)
        self.watchdog.after_heal(self.hosts, self.notes)


class CrashPeer(WatchedFault):
    """kill -9 of the peer daemon alone (its guests keep running); restarted on heal.
    The watchdog resets the host if the peer does not renew within ``watchdog_s``."""

    kind = "peer_crash"

    def inject(self) -> None:
        self.watchdog.arm()
        for h in self.hosts:
            pid = self.lab.host(h).pid
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            poll_until(lambda p=pid: not pid_alive(p), 10)  # type: ignore[misc]

    def tick(self, elapsed: float) -> None:
        if elapsed >= self.watchdog.timeout_s:
            for h in self.hosts:
                self.watchdog.fire(h, f"its peer was gone {elapsed:.1f} s", self.notes)

    def heal(self) -> None:
        for h in self.hosts:
            boot(self.lab, h)
        self.watchdog.after_heal(self.hosts, self.notes)
