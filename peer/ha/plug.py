"""Pulling the plug: kill this host's guests' QEMU processes at once, on a fence.

The fence's deadline is tight: the leader restarts the guests elsewhere
``margin`` seconds (2 s by default) after this host's own deadline. Stopping
domains one by one through libvirt took about 2 s per guest in the lab (8 s for
four), and the lab's chaos checker saw the last of them run on two hosts. This
is the software equivalent of the watchdog's reset: SIGKILL every QEMU process
of the given VMs in this host's network namespace, all in one go (milliseconds),
*before* anything slower. libvirt then sees the domains as crashed.

Which processes: ``/proc/<pid>/cmdline`` holds ``-name guest=qx-<vm id>,...``
(hypervisor.spec's domain names) and ``/proc/<pid>/ns/net`` equals this
process's own — in the lab every host is a network namespace on one machine, so
a host never touches another host's guests. ``guest_pids`` is the pure part.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from peer.ha.rules import fence_victims

log = logging.getLogger(__name__)

GUEST_ARG = b"guest=qx-"
PROC = Path("/proc")


def guest_pids(
    procs: Iterable[tuple[int, bytes, str]], vm_ids: Collection[str], netns: str
) -> dict[int, str]:
    """{pid: vm id} of the QEMU processes of ``vm_ids`` among ``procs``
    ((pid, raw cmdline, network namespace link)) that live in ``netns``."""
    out: dict[int, str] = {}
    for pid, cmdline, ns in procs:
        if ns != netns:
            continue
        for arg in cmdline.split(b"\0"):
            if arg.startswith(GUEST_ARG):
                vm = arg[len(GUEST_ARG) :].split(b",")[0].decode(errors="replace")
                if vm in vm_ids:
                    out[pid] = vm
                break
    return out


def _procs(proc: Path) -> Iterable[tuple[int, bytes, str]]:
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if GUEST_ARG not in cmdline:
                continue
            yield int(entry.name), cmdline, os.readlink(entry / "ns" / "net")
        except OSError:
            continue  # gone meanwhile, or not ours to read


def pull_the_plug(vm_ids: Collection[str], proc: Path = PROC) -> dict[int, str]:
    """SIGKILL the QEMU processes of ``vm_ids`` in this network namespace; returns
    {pid: vm id} of those signalled."""
    mine = os.readlink(proc / "self" / "ns" / "net")
    victims = guest_pids(_procs(proc), vm_ids, mine)
    for pid, vm in victims.items():
        try:
            os.kill(pid, signal.SIGKILL)
            log.warning("fenced: killed QEMU %d of VM %s", pid, vm)
        except ProcessLookupError:
            continue
    return victims


def fence_guests(vms: Iterable[tuple[str, Mapping[str, Any]]], me: str) -> dict[int, str]:
    """Pull the plug on every guest a fence must stop (``rules.fence_victims``)
    over the local replica's ``vms`` ((id, record value) pairs)."""
    return pull_the_plug(fence_victims(dict(vms), me))
