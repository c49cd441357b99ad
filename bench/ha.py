"""``python -m bench ha [--json] [--raft]``: the leader's figures.

``place_10k_on_64_s`` is pure scheduler CPU time (records parsed into a snapshot, then
every VM placed) for 10,000 VMs on 64 hosts with labels, local and shared pools,
and affinity/anti-affinity groups; the median of a few runs. ``recovery_plan_s``,
``admission_s`` and ``drs_round_s`` time the other pure decisions on the placed
cluster. ``leader_pass_*_10k_s`` time one whole leader pass (reads, decisions,
commits) on an in-process LocalStore: the first places everything, a steady one
finds nothing to do. The failover and migration figures need the lab with real
guests; ``--raft`` adds ``raft_failover_decision_*``: a leader host's death to
its HA VM's committed re-placement on a three-node RaftStore in this process
(no guests, short timings), which checks the control path's latency is about
``fence_after + margin`` + a pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from peer.ha import HAManager, LeaseRenewer
from peer.ha.admission import check_admission
from peer.ha.fencing import DeadNode, default_margin
from peer.ha.recovery import plan_recovery
from peer.scheduler.balance import recommend
from peer.scheduler.model import ClusterState
from peer.scheduler.placement import Placer, eligible_hosts, schedule
from peer.scheduler.policy import SchedulerPolicy
from raft.commands import Record
from raft.node import RaftStore
from raft.pysyncobj_adapter import Tuning
from raft.store import LocalStore, put
from raft.testnode import free_ports

HOSTS, VMS, NOW, RUNS = 64, 10_000, 1_000_000.0, 3
LAB_NOTE = "needs lab: run with the lab, daemon and reconciler (chaos harness)"


def workload(hosts: int = HOSTS, vms: int = VMS) -> dict[str, list[Record]]:
    def rec(table: str, key: str, value: dict[str, Any]) -> Record:
        return Record(table, key, 1, 1, value)

    nodes = [
        rec(
            "nodes",
            f"h{i:02d}",
            {
                "state": "active",
                "labels": {"zone": f"z{i % 4}", "disk": "ssd" if i % 2 else "hdd"},
                "resources": {"cpus": 128, "memory_mib": 768 * 1024, "pools": [f"local-{i:02d}"]},
            },
        )
        for i in range(hosts)
    ]
    leases = [rec("leases", f"h{i:02d}", {"renewed_at": NOW}) for i in range(hosts)]
    pools = [rec("pools", "san", {"shared": True})] + [
        rec("pools", f"local-{i:02d}", {"shared": False, "nodes": [f"h{i:02d}"]})
        for i in range(hosts)
    ]
    vm_recs = []
    for i in range(vms):
        pool = f"local-{i % hosts:02d}" if i % 5 == 0 else "san"
        value: dict[str, Any] = {
            "name": f"vm-{i}",
            "vcpus": 1 + i % 4,
            "memory_mib": 512 * (1 + i % 8),
            "disks": [{"id": "d0", "pool": pool}],
            "ha": {"enabled": i % 3 != 0, "priority": i % 7},
            "desired": "running",
            "placement": None,
            "placement_epoch": 0,
        }
        if i % 10 == 1:
            value["node_selector"] = {"disk": "ssd"}
        vm_recs.append(rec("vms", f"vm-{i:05d}", value))
    groups = [
        rec(
            "groups",
            f"anti-{g}",
            {"kind": "anti_affinity", "vms": [f"vm-{g * 7 + k:05d}" for k in range(5)]},
        )
        for g in range(200)
    ] + [
        rec(
            "groups",
            f"aff-{g}",
            {"kind": "affinity", "vms": [f"vm-{5000 + g * 3 + k:05d}" for k in range(3)]},
        )
        for g in range(100)
    ]
    return {"nodes": nodes, "leases": leases, "pools": pools, "vms": vm_recs, "groups": groups}


def placed_state(w: dict[str, list[Record]], placed: dict[str, str]) -> ClusterState:
    vms = [
        Record("vms", r.key, 1, 1, {**r.value, "placement": placed.get(r.key)}) for r in w["vms"]
    ]
    status = [
        Record("vm_status", k, 1, 1, {"node": h, "epoch": 1, "state": "running"})
        for k, h in placed.items()
    ]
    return ClusterState.from_records(
        nodes=w["nodes"],
        leases=w["leases"],
        vms=vms,
        pools=w["pools"],
        groups=w["groups"],
        status=status,
    )


async def leader_pass(w: dict[str, list[Record]]) -> tuple[float, float]:
    """(first pass, steady pass) of the whole leader loop on a LocalStore."""
    store = LocalStore("h00")
    now = time.time()
    ops = [put(t, r.key, r.value) for t in ("nodes", "pools", "groups") for r in w[t]]
    ops += [put("leases", r.key, {"renewed_at": now}) for r in w["leases"]]
    await store.commit(ops)
    for i in range(0, len(w["vms"]), 1000):
        await store.commit([put("vms", r.key, r.value) for r in w["vms"][i : i + 1000]])
    ha = HAManager(store, "h00", fence_after=6.0, heartbeat=1.0, batch=500)
    took = []
    for _ in range(3):
        t0 = time.perf_counter()
        await ha.step()
        took.append(time.perf_counter() - t0)
        await store.commit([put("leases", r.key, {"renewed_at": time.time()}) for r in w["leases"]])
    return took[0], statistics.median(took[1:])


def measure() -> dict[str, Any]:
    w = workload()
    policy = SchedulerPolicy()
    times, walls, result = [], [], None
    for _ in range(RUNS):
        t0, w0 = time.process_time(), time.perf_counter()
        state = ClusterState.from_records(
            nodes=w["nodes"], leases=w["leases"], vms=w["vms"], pools=w["pools"], groups=w["groups"]
        )
        result = schedule(state, policy, NOW, 6.0)
        times.append(time.process_time() - t0)
        walls.append(time.perf_counter() - w0)
    assert result is not None
    placed = placed_state(w, result.placed)
    ok, why = eligible_hosts(placed, NOW, 6.0)

    t0 = time.perf_counter()
    dead = {"h00": DeadNode("h00", 1)}
    survivors = [h for h in ok if h != "h00"]
    plan = plan_recovery(placed, Placer(placed, policy, survivors), dead, survivors, NOW)
    recovery_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    adm = check_admission(placed, policy, ok)
    admission_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    recommend(placed, Placer(placed, policy.merged({"drs_threshold": 0.0}), ok, why))
    drs_s = time.perf_counter() - t0
    first_pass, steady_pass = asyncio.run(leader_pass(w))
    return {
        # CPU time of this process: the scheduler's work, not the shared machine's load.
        "place_10k_on_64_s": round(statistics.median(times), 4),
        "place_10k_on_64_wall_s": round(statistics.median(walls), 4),
        "placed": len(result.placed),
        "unplaceable": len(result.errors),
        "recovery_plan_s": round(recovery_s, 4),
        "recovery_restarts": len(plan.restarts),
        "admission_s": round(admission_s, 4),
        "admission_ok": adm.ok,
        "drs_round_s": round(drs_s, 4),
        "leader_pass_first_10k_s": round(first_pass, 4),
        "leader_pass_steady_10k_s": round(steady_pass, 4),
        "failover_p50_s": None,
        "failover_p99_s": None,
        "double_runs": None,
        "migration_s": None,
        "note": f"failover_p50_s, failover_p99_s, double_runs, migration_s: {LAB_NOTE}",
    }


def main(argv: list[str]) -> int:
    figures = measure()
    if "--raft" in argv:
        # Opt-in: a few in-process RaftStore failovers (about 5 s each), no guests.
        figures.update(raft_failover(int(os.environ.get("BENCH_HA_TRIALS", "5"))))
    if "--json" in argv:
        print(json.dumps(figures))
        return 0
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        print(f"{k:<{width}}  {'null' if v is None else v}")
    return 0


async def raft_failover_trial(tmp: Path, beat: float, fence: float, margin: float) -> float:
    """Seconds from a leader host's death to its HA VM's re-placement being
    committed, on a three-node RaftStore in this process (no guests)."""
    members = [f"127.0.0.1:{p}" for p in free_ports(3)]
    ids = ["n0", "n1", "n2"]
    stores = {
        nid: RaftStore(
            a, members, tmp / nid, "bench-ha-secret-0123", node_id=nid, tuning=Tuning(fsync=False)
        )
        for nid, a in zip(ids, members, strict=True)
    }
    parts: list[Any] = []
    try:
        await asyncio.gather(*(s.start() for s in stores.values()))
        await _until(lambda: sum(s.is_leader for s in stores.values()) == 1, 20.0)
        victim = next(n for n, s in stores.items() if s.is_leader)
        ops = [put("pools", "san", {"shared": True})]
        ops += [
            put("nodes", n, {"state": "active", "resources": {"cpus": 8, "memory_mib": 8192}})
            for n in ids
        ]
        ops.append(
            put(
                "vms",
                "web",
                {
                    "name": "web",
                    "vcpus": 1,
                    "memory_mib": 512,
                    "ha": {"enabled": True},
                    "desired": "running",
                    "placement": victim,
                    "placement_epoch": 1,
                },
            )
        )
        await stores[victim].commit(ops)
        for nid, store in stores.items():
            parts.append(
                LeaseRenewer(store, nid, heartbeat=beat, fence_after=fence, on_fence=lambda: None)
            )
            parts.append(HAManager(store, nid, fence_after=fence, heartbeat=beat, margin=margin))
        tasks = [asyncio.create_task(p.run()) for p in parts]
        survivor = next(s for n, s in stores.items() if n != victim)
        await _until(lambda: len(survivor.scan("leases")) == 3, 20.0)
        await asyncio.sleep(beat * 3)  # let every peer watch the leases for a while
        t0 = time.monotonic()
        await stores[victim].stop()
        await _until(lambda: _placement(survivor, "web") != victim, 60.0)
        took = time.monotonic() - t0
        for p in parts:
            p.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10.0)
        return took
    finally:
        for p in parts:
            p.stop()
        await asyncio.gather(*(s.stop() for s in stores.values()), return_exceptions=True)


def _placement(store: Any, vm_id: str) -> Any:
    rec = store.get("vms", vm_id)
    return rec.value.get("placement") if rec is not None else None


async def _until(pred: Any, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def raft_failover(trials: int) -> dict[str, Any]:
    beat, fence = 0.3, 3.0
    margin = default_margin(beat)
    took = []
    logging.disable(logging.CRITICAL)  # the dead host's fence is expected, not news
    with tempfile.TemporaryDirectory() as d:
        for i in range(trials):
            took.append(asyncio.run(raft_failover_trial(Path(d) / f"t{i}", beat, fence, margin)))
    took.sort()
    return {
        "raft_failover_decision_p50_s": round(statistics.median(took), 3),
        "raft_failover_decision_max_s": round(took[-1], 3),
        "raft_failover_settings": {"heartbeat": beat, "fence_after": fence, "margin": margin},
        "raft_failover_trials": trials,
    }
