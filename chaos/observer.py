"""The observer: samples reality while the run goes on.

- ``qemu``: every QEMU process on every host (found through /proc: its network
  namespace tells the host, its ``-name guest=qx-<vm id>`` the VM), with the
  process state; VMs seen on two hosts are re-read at once before being reported.
  State ``-`` marks a QEMU whose vCPU threads have never had CPU time: it
  executes no guest (the destination of a live migration until it is resumed,
  or a guest not yet started). Two QEMUs of one VM are a double run only when
  both execute (``NOT_EXECUTING`` lists the states that do not).
- ``roles``: each peer's ``/health`` (Raft role, quorum, revision) over its socket.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from chaos.client import PeerClient
from chaos.history import History

GUEST_RE = re.compile(rb"guest=qx-([0-9a-zA-Z_-]+)")


def netns_inodes(netns_by_host: dict[str, str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for host, ns in netns_by_host.items():
        try:
            out[os.stat(f"/run/netns/{ns}").st_ino] = host
        except OSError:
            continue
    return out


def proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


# Stopped (SIGSTOP, ptrace), zombie, dead, or vCPUs that never ran.
NOT_EXECUTING = ("T", "t", "Z", "X", "-")


def vcpus_ran(pid: int) -> bool:
    """Whether any of the QEMU's vCPU threads (``CPU n/TCG``, ``CPU n/KVM``)
    has had CPU time (utime + stime, in clock ticks)."""
    try:
        tasks = os.scandir(f"/proc/{pid}/task")
    except OSError:
        return False
    with tasks:
        for t in tasks:
            try:
                if not Path(t.path, "comm").read_bytes().startswith(b"CPU "):
                    continue
                fields = Path(t.path, "stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            # After the ")": state is field 3 of stat(5), utime 14 and stime 15.
            if int(fields[11]) + int(fields[12]) > 0:
                return True
    return False


def guest_state(pid: int) -> str | None:
    """The process state, or ``-`` when the process is live but its vCPUs have
    never run; None when it is gone."""
    st = proc_state(pid)
    if st is None or st in NOT_EXECUTING:
        return st
    return st if vcpus_ran(pid) else "-"


def parse_guest(cmdline: bytes) -> str | None:
    """The VM id in a QEMU command line (``-name guest=qx-<id>,...``). Pure."""
    m = GUEST_RE.search(cmdline)
    return m.group(1).decode() if m else None


def qemu_processes(inodes: dict[int, str]) -> dict[str, dict[str, list[Any]]]:
    """{host: {vm_id: [pid, state]}} for every QEMU in the lab's namespaces."""
    out: dict[str, dict[str, list[Any]]] = {h: {} for h in inodes.values()}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                if not f.read().startswith(b"qemu-system"):
                    continue
            host = inodes.get(os.stat(f"/proc/{pid}/ns/net").st_ino)
            if host is None:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                vm = parse_guest(f.read())
        except OSError:
            continue
        state = guest_state(pid)
        if vm is not None and state is not None:
            out[host][vm] = [pid, state]
    return out


def confirm_doubles(hosts: dict[str, dict[str, list[Any]]]) -> dict[str, list[list[Any]]]:
    """VMs on two or more hosts whose processes all still exist when re-read."""
    where: dict[str, list[list[Any]]] = {}
    for h, vms in hosts.items():
        for vm, (pid, _) in vms.items():
            where.setdefault(vm, []).append([h, pid])
    out: dict[str, list[list[Any]]] = {}
    for vm, places in where.items():
        if len(places) < 2:
            continue
        now = [[h, pid, guest_state(pid)] for h, pid in places]
        if all(st is not None and st not in ("Z", "X", "-") for _, _, st in now):
            out[vm] = now
    return out


class Observer:
    def __init__(
        self,
        history: History,
        netns_by_host: dict[str, str],
        clients: dict[str, PeerClient],
        qemu_every_s: float = 0.5,
        roles_every_s: float = 1.0,
    ) -> None:
        self.history = history
        self.netns_by_host = netns_by_host
        self.clients = clients
        self.qemu_every_s = qemu_every_s
        self.roles_every_s = roles_every_s
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._qemu_loop, name="observe-qemu", daemon=True),
            threading.Thread(target=self._roles_loop, name="observe-roles", daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            if t.ident is not None:
                t.join(timeout=10)

    def sample_qemu(self) -> dict[str, dict[str, list[Any]]]:
        hosts = qemu_processes(netns_inodes(self.netns_by_host))
        self.history.sample("qemu", hosts=hosts, doubles=confirm_doubles(hosts))
        return hosts

    def _qemu_loop(self) -> None:
        while not self.stop.is_set():
            self.sample_qemu()
            self.stop.wait(self.qemu_every_s)

    def sample_roles(self) -> dict[str, Any]:
        roles: dict[str, Any] = {}
        for h, c in self.clients.items():
            r = c.get("/health", timeout=1.0)
            roles[h] = (
                {
                    "role": r.body.get("raft_role"),
                    "quorum": r.body.get("has_quorum"),
                    "revision": r.body.get("revision"),
                }
                if r.status == 200 and isinstance(r.body, dict)
                else None
            )
        self.history.sample("roles", hosts=roles)
        return roles

    def _roles_loop(self) -> None:
        while not self.stop.is_set():
            self.sample_roles()
            self.stop.wait(self.roles_every_s)
