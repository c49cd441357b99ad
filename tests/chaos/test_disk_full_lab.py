"""Full disks on a minority of hosts fence nobody (a chaos fault on a real lab).

Five hosts, each with its data dir on a small tmpfs (as the chaos harness runs
them); the disks of two of them, the leader's among them, are filled to ENOSPC.
Those hosts still reach a quorum, so no host may lose its lease: every HA guest
keeps its one QEMU process throughout (it used to be forced off on the full
hosts, ~30 s of outage). The full hosts report ``disk_full`` in their node
records and get no new VMs; once the disks have room again the condition clears.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from chaos.faults.disk import DiskFull, mount_data_tmpfs
from chaos.faults.sweep import sweep
from chaos.lab import Host, Lab
from chaos.observer import NOT_EXECUTING, netns_inodes, qemu_processes
from tests.labs import short_lab
from tests.peer.test_ha_lab import api, create_ha_vms, running_on, three_voters
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.xdist_group("lab")]

TMPFS_MIB = 96  # what the chaos harness gives each host


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("f") as lab:
        try:
            yield lab
        finally:
            for h in lab.hosts():
                with contextlib.suppress(Exception):
                    lab.kill(h.name)
            sweep(lab, unmount_data=True)


class Pids:
    """Every (VM, host, pid) of a live QEMU, sampled every 0.2 s."""

    def __init__(self, hosts: list[Host]) -> None:
        self.inodes = netns_inodes({h.name: h.netns for h in hosts})
        self.seen: dict[str, set[tuple[str, int]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for host, vms in qemu_processes(self.inodes).items():
                for vm, (pid, state) in vms.items():
                    if state not in NOT_EXECUTING:
                        self.seen.setdefault(vm, set()).add((host, pid))

    def __enter__(self) -> Pids:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def conditions(via: Host, node: str) -> dict[str, str]:
    return dict(api(via).get(f"/nodes/{node}").get("conditions") or {})


def test_two_full_disks_of_five_fence_nobody(lab: Lab) -> None:
    hosts = lab.up(5, start=False)
    for h in hosts:
        mount_data_tmpfs(h.data_dir, TMPFS_MIB)
        lab.start(h.name)
    wait_for(lambda: three_voters(hosts, 5), 240, "5 voters")
    by_node = {api(h).get("/peer")["node_id"]: h for h in hosts}
    leader_id = str(api(hosts[0]).get("/cluster")["leader"])
    ids = create_ha_vms(hosts[0], 3)
    full_ids = [leader_id, next(n for n in sorted(by_node) if n != leader_id)]
    full = [by_node[n] for n in full_ids]
    healthy = next(h for h in hosts if h not in full)
    with Pids(hosts) as pids:
        with DiskFull(lab, [h.name for h in full]) as fault:
            assert all(fault.filled.values()), fault.filled

            def reported() -> bool:
                return all("disk_full" in conditions(healthy, n) for n in full_ids)

            wait_for(reported, 60, "the full hosts to report disk_full")
            new = []
            for i in range(3):
                spec = {"name": f"new{i}", "vcpus": 1, "memory_mib": 64, "desired": "running"}
                status, body = api(healthy).post("/vms", spec)
                assert status == 201, body
                new.append(body["id"])
            wait_for(lambda: all(running_on(healthy, v) for v in new), 120, "the new VMs")
            placed = {api(healthy).get(f"/vms/{v}")["placement"] for v in new}
            assert not placed & set(full_ids), placed
            assert all(running_on(healthy, v) for v in ids)
        # Room again: the condition goes away.
        wait_for(
            lambda: not any("disk_full" in conditions(healthy, n) for n in full_ids),
            60,
            "disk_full to clear",
        )
    moved = {v: places for v, places in pids.seen.items() if v in ids and len(places) != 1}
    assert not moved, f"HA guests stopped or moved while two disks were full: {moved}"
