"""High availability on real hosts: real peers in namespaces, real QEMU guests.

Kill -9 of a host (its peer and its QEMUs), a host cut off from the others, and
the leader killed in the middle of a recovery: the HA VMs run again on other
hosts within the bound, and at no sampled instant do two live QEMU processes
exist for one VM (observed per host, by process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chaos.lab import Host, Lab
from chaos.observer import NOT_EXECUTING, confirm_doubles, netns_inodes, qemu_processes
from tests.labs import host_api, short_lab
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

# Defaults: heartbeat 1 s, fence_after 6 s, margin 2 s; plus detection and a boot.
FAILOVER_BOUND = 40.0


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("h") as lab:
        yield lab


class QemuSampler:
    """Which lab host runs a live QEMU for each VM, sampled every 0.1 s (the chaos
    harness's observer reads /proc: network namespace -> host, -name -> VM)."""

    def __init__(self, hosts: list[Host]) -> None:
        self.inodes = netns_inodes({h.name: h.netns for h in hosts})
        self.doubles: list[tuple[str, list[Any]]] = []
        self.samples = 0
        self.seen: set[str] = set()  # VMs seen live at least once (the sampler works)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples += 1
            seen = qemu_processes(self.inodes)
            # A stopped (SIGSTOP) QEMU, or one whose vCPUs never ran, executes nothing.
            live = {
                h: {vm: p for vm, p in vms.items() if p[1] not in NOT_EXECUTING}
                for h, vms in seen.items()
            }
            self.seen |= {vm for vms in live.values() for vm in vms}
            self.doubles += [
                (vm, places)
                for vm, places in confirm_doubles(live).items()
                if all(st not in NOT_EXECUTING for _, _, st in places)
            ]

    def __enter__(self) -> QemuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def api(h: Host) -> LocalApi:
    return host_api(h, timeout=10)


def running_on(h: Host, vm_id: str) -> str | None:
    """The node running the VM's current placement, as ``h`` sees it."""
    v = api(h).get(f"/vms/{vm_id}")
    st = v.get("status") or {}
    current = st.get("epoch") == v.get("placement_epoch") and st.get("node") == v.get("placement")
    return str(st["node"]) if st.get("state") == "running" and current else None


def three_voters(hosts: list[Host], n: int = 3) -> bool:
    c = api(hosts[0]).get("/cluster")
    return bool(c["leader"]) and sum(bool(m["voter"]) for m in c["members"]) == n


def up_with_voters(lab: Lab, n: int = 3) -> tuple[list[Host], dict[str, Host]]:
    """``n`` hosts, every one a voter (3 or 5 hosts); node id -> host."""
    hosts = lab.up(n)
    wait_for(lambda: three_voters(hosts, n), 60 + 15 * n, f"{n} voters")
    return hosts, {api(h).get("/peer")["node_id"]: h for h in hosts}


def create_ha_vms(via: Host, n: int) -> list[str]:
    """``n`` diskless HA guests, waited for until each runs at its placement."""
    ids = []
    for i in range(n):
        spec: dict[str, Any] = {"name": f"ha{i}", "vcpus": 1, "memory_mib": 64}
        spec |= {"desired": "running", "ha": {"enabled": True}}
        status, body = api(via).post("/vms", spec)
        assert status in (200, 201), body
        ids.append(body["id"])
    wait_for(lambda: all(running_on(via, v) for v in ids), 120, "the HA guests running")
    return ids


def start_ha_vms(lab: Lab, n: int) -> tuple[list[Host], list[str], dict[str, Host]]:
    hosts, by_node = up_with_voters(lab, 3)
    return hosts, create_ha_vms(hosts[0], n), by_node


def busiest(hosts: list[Host], ids: list[str], by_node: dict[str, Host]) -> tuple[Host, list[str]]:
    where = {v: running_on(hosts[0], v) for v in ids}
    counts = [n for n in where.values() if n]
    top = max(set(counts), key=lambda n: (counts.count(n), n))
    return by_node[str(top)], [v for v, n in where.items() if n == top]


def test_killed_host_ha_vms_run_elsewhere_and_never_twice(lab: Lab) -> None:
    hosts, ids, by_node = start_ha_vms(lab, 2)
    victim, moved = busiest(hosts, ids, by_node)
    survivor = next(h for h in hosts if h is not victim)
    with QemuSampler(hosts) as watch:
        t0 = time.monotonic()
        lab.kill(victim.name)  # the peer and its QEMUs, kill -9

        gone = (None, *by_node_of(victim, by_node))

        def all_elsewhere() -> bool:
            return all(running_on(survivor, v) not in gone for v in moved)

        wait_for(all_elsewhere, FAILOVER_BOUND, "the HA VMs to run on other hosts")
        took = time.monotonic() - t0
        # The dead host comes back: it must not start its old copies.
        lab.start(victim.name)
        wait_for(lambda: api(victim).get("/peer")["raft"]["role"] in ("follower", "leader"),
                 60, "the returning host to rejoin")  # fmt: skip
        wait_for(lambda: watch.samples > 50, 30, "enough QEMU samples after the return")
    assert watch.doubles == [], f"double runs: {watch.doubles[:5]}"
    assert set(moved) <= watch.seen
    assert took < FAILOVER_BOUND
    assert all(running_on(survivor, v) for v in moved)


def by_node_of(h: Host, by_node: dict[str, Host]) -> tuple[str, ...]:
    return tuple(nid for nid, host in by_node.items() if host is h)


def test_cut_off_host_stops_its_vms_before_the_majority_starts_them(lab: Lab) -> None:
    hosts, ids, by_node = start_ha_vms(lab, 2)
    victim, moved = busiest(hosts, ids, by_node)
    survivor = next(h for h in hosts if h is not victim)
    victim_id = by_node_of(victim, by_node)[0]
    with QemuSampler(hosts) as watch:
        lab.exec(victim.name, ["ip", "link", "set", "eth0", "down"])
        try:

            def moved_away() -> bool:
                return all(running_on(survivor, v) not in (None, victim_id) for v in moved)

            wait_for(moved_away, FAILOVER_BOUND, "the HA VMs to run on the majority side")
        finally:
            lab.exec(victim.name, ["ip", "link", "set", "eth0", "up"])
        # Back on the network: its fenced copies stay down, the cluster heals.
        wait_for(lambda: three_voters(hosts), 90, "the cut-off host to be back")
        samples_then = watch.samples
        wait_for(lambda: watch.samples > samples_then + 30, 30, "QEMU samples after healing")
    assert watch.doubles == [], f"double runs: {watch.doubles[:5]}"
    assert set(moved) <= watch.seen
    assert all(running_on(survivor, v) not in (None, victim_id) for v in moved)


def test_leader_killed_mid_recovery_the_next_leader_completes_it(lab: Lab) -> None:
    """A host dies; the leader commits its VMs' HA restarts onto itself and is
    killed -9 before it has run them: the next leader must finish the recovery
    (both hosts' HA VMs run on the three survivors) without a double run.

    Five hosts, so the cluster keeps a majority after two deaths. The leader is
    in maintenance while the guests are placed, so it is the emptiest host when
    the first host dies and the restarts it decides go (at least partly) to it."""
    hosts, by_node = up_with_voters(lab, 5)
    node_of = {h.name: nid for nid, h in by_node.items()}
    leader_id = str(api(hosts[0]).get("/cluster")["leader"])
    leader = by_node[leader_id]
    status, body = api(leader).call("PATCH", f"/nodes/{leader_id}", {"maintenance": True})
    assert status == 200, body
    ids = create_ha_vms(leader, 6)  # 2, 2, 1, 1 on the four hosts that take guests
    status, body = api(leader).call("PATCH", f"/nodes/{leader_id}", {"maintenance": False})
    assert status == 200, body
    wait_for(lambda: api(leader).get(f"/nodes/{leader_id}")["state"] == "active", 30, "active")
    victim, stranded = busiest(hosts, ids, by_node)
    assert victim is not leader and len(stranded) >= 2, (victim.name, stranded)
    victim_id = node_of[victim.name]
    survivors = [h for h in hosts if h not in (victim, leader)]

    with QemuSampler(hosts) as watch:
        lab.kill(victim.name)  # kill -9: its peer and its QEMUs

        def replaced() -> dict[str, str]:
            """The victim's VMs' placements once the leader has committed their
            restarts (one transaction); empty before. Fails if leadership moved."""
            assert api(leader).get("/peer")["raft"]["role"] == "leader", "leadership moved"
            vms = {v["id"]: v for v in api(leader).get("/vms?limit=1000")["items"]}
            where = {v: str(vms[v]["placement"]) for v in stranded}
            return where if all(p != victim_id for p in where.values()) else {}

        # Fast polling: the window between the commit and the guests starting is short.
        where = wait_for(replaced, FAILOVER_BOUND, "the leader to commit the restarts", 0.02)
        running_then = {v: running_on(leader, v) for v in stranded}
        t0 = time.monotonic()
        lab.kill(leader.name)  # mid-recovery: restarts committed, not (all) carried out
        on_leader = [v for v, p in where.items() if p == leader_id]
        assert on_leader, f"no restart went to the leader: {where}"
        # Every HA VM the two dead hosts had (the leader had only what it just took).
        gone = (None, victim_id, leader_id)
        moved = sorted(set(stranded) | set(on_leader))
        via = survivors[0]

        def completed() -> bool:
            return all(running_on(via, v) not in gone for v in moved)

        wait_for(completed, FAILOVER_BOUND, "the next leader to complete the recovery")
        took = time.monotonic() - t0
        new_leader = str(api(via).get("/cluster")["leader"])
        samples_then = watch.samples
        wait_for(lambda: watch.samples > samples_then + 30, 30, "QEMU samples after recovery")
    assert new_leader in {node_of[h.name] for h in survivors}
    assert watch.doubles == [], f"double runs: {watch.doubles[:5]}"
    assert set(ids) <= watch.seen
    assert all(running_on(via, v) not in gone for v in ids), "every HA VM runs on a survivor"
    # The next leader redid the dead leader's restarts: events name its host as failed.
    events = api(via).get("/events?kind=vm.ha_restart&limit=1000")["items"]
    redone = {e["resource_id"] for e in events if f"host {leader_id} failed" in e["message"]}
    print(f"restarts committed to {where}, running then {running_then}, recovered in {took:.1f} s")
    assert set(on_leader) <= redone, (on_leader, events[:10])
    assert took < FAILOVER_BOUND
