"""``python -m bench raft [--json]``: the replicated store on a 3-node loopback cluster.

Every node is its own process (``python -m testkit.raftnode``) with durability on
(each entry fsynced before it is acknowledged or counted). Figures:

write_p50_ms / write_p99_ms   synchronous writes issued on the leader, one at a time (in process)
api_write_p50_ms / _p99_ms    the same write from a client: PATCH over HTTPS, a 3-host lab's leader
follower_write_p50_ms         the same, issued on a follower (forwarded to the leader)
throughput_wps                writes/s with 64 in flight on the leader (pipelined)
idle_cpu_pct                  CPU of the busiest node while the cluster is idle
rss_mb                        resident memory of the largest node after the workload
restart_10k_s                 kill -9 of all 3 nodes holding 10,000 VM-sized records
                              (9,000 in the snapshot, 1,000 in the journal), restart:
                              until a leader is agreed, every node has the whole
                              state again and a new write commits
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.verdict import Report
from testkit.raftnode import LocalCluster


async def _idle_cpu(cluster: LocalCluster, seconds: float) -> list[float]:
    procs = [psutil.Process(n.pid) for n in cluster.nodes.values()]
    await asyncio.sleep(1.0)  # let the last writes' replies settle
    before = [sum(p.cpu_times()[:2]) for p in procs]
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    dt = time.monotonic() - t0
    after = [sum(p.cpu_times()[:2]) for p in procs]
    return [round((a - b) / dt * 100, 2) for a, b in zip(after, before, strict=True)]


async def _measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = LocalCluster(root / "main", 3)
    try:
        await c.start()
        leader = await c.leader()
        follower = next(n for n in c.nodes.values() if n is not leader)
        await leader.call("latency", n=50, prefix="warm", wait=120)
        lat = await leader.call("latency", n=args.writes, size=args.size, wait=600)
        out["write_p50_ms"], out["write_p99_ms"] = lat["p50_ms"], lat["p99_ms"]
        flat = await follower.call("latency", n=args.writes, size=args.size, prefix="f", wait=600)
        out["follower_write_p50_ms"] = flat["p50_ms"]
        out["follower_write_p99_ms"] = flat["p99_ms"]
        bulk = await leader.call(
            "bulk", n=args.pipelined, size=args.size, concurrency=64, prefix="p", wait=600
        )
        out["throughput_wps"] = bulk["wps"]
        cpu = await _idle_cpu(c, args.idle_seconds)
        out["idle_cpu_pct"] = max(cpu)
        out["idle_cpu_pct_per_node"] = cpu
        out["idle_seconds"] = args.idle_seconds
        out["rss_mb"] = round(
            max(psutil.Process(n.pid).memory_info().rss for n in c.nodes.values()) / 2**20, 1
        )
    finally:
        await c.stop()

    r = LocalCluster(root / "restart", 3)
    try:
        await r.start()
        leader = await r.leader()
        in_snapshot = args.records - args.records // 10
        await leader.call(
            "bulk", n=in_snapshot, size=args.size, concurrency=64, prefix="vm", wait=600
        )
        await r.wait_converged(timeout=60)
        for n in r.nodes.values():
            await n.call("compact", wait=60)
        await leader.call(
            "bulk",
            n=args.records - in_snapshot,
            size=args.size,
            concurrency=64,
            prefix="vm-j",
            wait=600,
        )
        rev = (await leader.call("hash"))["revision"]
        await r.wait_converged(revision=rev, timeout=60)
        r.kill_all()
        await asyncio.gather(*(n.wait_exit() for n in r.nodes.values()))
        t0 = time.monotonic()
        await r.start()
        await r.leader(timeout=60)
        await r.wait_converged(revision=rev, timeout=60)
        await leader.call("put", key="after-restart", value={})
        # Named by the records it held (restart_10k_s: the 10,000 of the target).
        out[f"restart_{_count(args.records)}_s"] = round(time.monotonic() - t0, 2)
        out["restart_records"] = args.records
        out[f"rss_mb_{_count(args.records)}"] = round(
            max(psutil.Process(n.pid).memory_info().rss for n in r.nodes.values()) / 2**20, 1
        )
    finally:
        await r.stop()
    out["record_bytes"] = args.size
    out["durability"] = "fsync before ack"
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench raft")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--writes", type=int, default=1000, help="synchronous writes per run")
    ap.add_argument("--pipelined", type=int, default=10000, help="writes in the throughput run")
    ap.add_argument("--records", type=int, default=10000, help="records for the restart run")
    ap.add_argument("--size", type=int, default=1500, help="bytes per record (a VM spec)")
    ap.add_argument(
        "--no-api", action="store_true", help="skip the write through the API (needs root)"
    )
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-raft-"))
    try:
        out = asyncio.run(_measure(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not args.no_api:
        out.update(api_write(args.writes))
    return report(out).emit(args.json)


def _count(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def api_write(n: int) -> dict[str, Any]:
    """The same write as a client makes it: PATCH over HTTPS to the leader of a
    3-host lab (TLS, auth, validation, the commit with its event record, fsync),
    one at a time (bench.api's write_leader phase with one client)."""
    from bench.api import measure, start_lab

    lab_root = Path(tempfile.mkdtemp(prefix="qxbr", dir="/tmp"))
    r = Report("api write")
    try:
        lab, target = start_lab(lab_root)
        try:
            asyncio.run(measure(target, [1], n, r, phases=("write_leader",)))
        finally:
            lab.down()
    finally:
        shutil.rmtree(lab_root, ignore_errors=True)
    return {
        "api_write_p50_ms": r.figures.get("c1_write_leader_p50_ms"),
        "api_write_p99_ms": r.figures.get("c1_write_leader_p99_ms"),
        "api_write_cpu_ms_per_req": r.figures.get("c1_write_leader_cpu_ms_per_req"),
        "api_write_path": "PATCH /api/v1/vms/{id} over HTTPS to the leader of a 3-host lab",
    }


TARGETS = {
    "write_p50_ms": "<= 5",
    "write_p99_ms": "<= 20",
    "throughput_wps": ">= 2000",
    "idle_cpu_pct": "<= 1",
    "restart_10k_s": "<= 5",
}


def report(out: dict[str, Any]) -> Report:
    r = Report("bench raft")
    for k, v in out.items():
        if isinstance(v, int | float | None) and not isinstance(v, bool):
            r.figure(k, v, TARGETS.get(k))
        else:
            r.note(k, v)
    for k in TARGETS:
        if k not in out:
            r.figure(k, None, TARGETS[k])
    return r
