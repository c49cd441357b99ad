"""``python -m bench ha [--json]``: the leader's figures.

``place_10k_on_64_s`` is pure scheduler time (records parsed into a snapshot, then
every VM placed) for 10,000 VMs on 64 hosts with labels, local and shared pools,
and affinity/anti-affinity groups; the median of a few runs. ``recovery_plan_s``,
``admission_s`` and ``drs_round_s`` time the other pure decisions on the placed
cluster. ``leader_pass_*_10k_s`` time one whole leader pass (reads, decisions,
commits) on an in-process LocalStore: the first places everything, a steady one
finds nothing to do. The failover and migration figures need the lab with real
guests.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from peer.ha import HAManager
from peer.ha.admission import check_admission
from peer.ha.fencing import DeadNode
from peer.ha.recovery import plan_recovery
from peer.scheduler.balance import recommend
from peer.scheduler.model import ClusterState
from peer.scheduler.placement import Placer, eligible_hosts, schedule
from peer.scheduler.policy import SchedulerPolicy
from raft.commands import Record
from raft.store import LocalStore, put

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
    times, result = [], None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        state = ClusterState.from_records(
            nodes=w["nodes"], leases=w["leases"], vms=w["vms"], pools=w["pools"], groups=w["groups"]
        )
        result = schedule(state, policy, NOW, 6.0)
        times.append(time.perf_counter() - t0)
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
        "place_10k_on_64_s": round(statistics.median(times), 4),
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
    if "--json" in argv:
        print(json.dumps(figures))
        return 0
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        print(f"{k:<{width}}  {'null' if v is None else v}")
    return 0
