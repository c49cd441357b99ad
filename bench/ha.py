"""``python -m bench ha [--json] [--raft] [--lab [--injections N] [--fault F] [--plug]]``.

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
``fence_after + margin`` + a pass. ``--lab`` (root) builds a 3-host lab with HA
guests, measures ``migration_s`` (a maintenance drain), then injects
``--injections`` faults (default 20; ``--fault kill``: kill -9 of every process
in the host's namespace, or ``partition``: its link down) on the host running the
most guests, never the same host twice in a row, each undone (host restarted,
back as a voter, every guest running) before the next: ``failover_p50_s`` and
``failover_p99_s`` are over every guest of every injection, from the fault until
a QEMU executing the guest (its vCPUs have run) is seen on another host (by
process, the chaos observer's reader); ``double_runs`` counts QEMU samples
(every 0.1 s, every namespace) with one guest executing on two hosts, over the
faults (``migration_double_runs``: during the drain). ``lab_total_s`` is the wall time of it all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench.migration import live_migration_figures
from bench.verdict import Report, keep_logs, meets
from chaos.observer import NOT_EXECUTING, confirm_doubles, netns_inodes, qemu_processes
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
from testkit.labguest import guest_vm, register_test_guest
from testkit.localapi import LocalApi
from testkit.raftnode import free_ports
from testkit.wait import WaitTimeout, async_wait_for, wait_for

HOSTS, VMS, NOW, RUNS = 64, 10_000, 1_000_000.0, 3
LAB_NOTE = "need the lab: python -m bench ha --lab (root; a 3-host lab, 20 faults, ~15 min)"


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


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench ha", description="the leader's figures")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--raft", action="store_true", help="in-process RaftStore failovers")
    p.add_argument("--lab", action="store_true", help="a 3-host lab with real guests (root)")
    p.add_argument("--plug", action="store_true", help="force LeaseRenewer(plug=True)")
    p.add_argument("--injections", type=int, default=20, help="lab faults (default 20)")
    p.add_argument("--fault", choices=["kill", "partition"], default="kill", help="lab fault")
    p.add_argument("--vms", type=int, default=4, help="lab HA guests (default 4)")
    args, _ = p.parse_known_args(argv)  # `bench all` passes every benchmark's options
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    figures = measure()
    if args.lab:
        figures.update(
            lab_figures(
                n_vms=args.vms, plug=args.plug, injections=args.injections, fault=args.fault
            )
        )
    if args.raft:
        # Opt-in: a few in-process RaftStore failovers (about 5 s each), no guests.
        figures.update(raft_failover(int(os.environ.get("BENCH_HA_TRIALS", "5"))))
    return report(figures, lab=args.lab).emit(args.json)


def report(figures: dict[str, Any], lab: bool) -> Report:
    """Targets apply to the lab's failover; the invariants to whatever ran."""
    r = Report("bench ha")
    for k, v in figures.items():
        number = isinstance(v, int | float) and not isinstance(v, bool)
        if number or (v is None and k in TARGETS):
            r.figure(k, v, TARGETS.get(k) if lab else None)
        else:
            r.note(k, v)
    if lab:
        r.check("no double run", figures.get("double_runs") == 0, f"{figures.get('double_runs')}")
        r.check(
            "every guest failed over within the bound",
            figures.get("failover_missed") == 0,
            f"{figures.get('failover_missed')} missed (counted as {FAILOVER_BOUND_S:.0f} s)",
        )
        r.check(
            "live migrations never restarted the guest",
            figures.get("migration_guest_restarted") == 0,
            f"{figures.get('migration_guest_restarted')}",
        )
        r.check("no error in the leader's code", not figures.get("leader_errors"))
        r.check(
            "every fault undone",
            figures.get("failover_error") is None,
            str(figures.get("failover_error") or ""),
        )
    return r


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
        await async_wait_for(
            lambda: sum(s.is_leader for s in stores.values()) == 1, 20.0, "one leader"
        )
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
        await async_wait_for(lambda: len(survivor.scan("leases")) == 3, 20.0, "three leases")
        await asyncio.sleep(beat * 3)  # let every peer watch the leases for a while
        t0 = time.monotonic()
        await stores[victim].stop()
        await async_wait_for(
            lambda: _placement(survivor, "web") != victim, 60.0, "web placed elsewhere"
        )
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


# -- the lab: real peers and guests (opt-in: --lab; needs root) -------------------


class QemuWatch:
    """Samples, every ``interval``, which lab host runs a QEMU executing each VM (the
    chaos observer's reader: /proc, network namespace -> host, ``-name`` -> VM; a
    stopped process, or one whose vCPUs never ran, such as a live migration's
    incoming copy, executes nothing) and counts samples in which one VM executed
    on two hosts at once (re-read before counting)."""

    def __init__(self, netns: dict[str, str], interval: float = 0.1) -> None:
        self.inodes = netns_inodes(netns)  # lab host name <- namespace inode
        self.interval = interval
        self.doubles: dict[str, int] = {}
        self.samples = 0
        # (monotonic time, vm, hosts) of each double sample, and labelled phases.
        self.events: list[tuple[float, str, list[str]]] = []
        self.marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> QemuWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def executing(self) -> dict[str, dict[str, list[Any]]]:
        return {
            h: {vm: p for vm, p in vms.items() if p[1] not in NOT_EXECUTING}
            for h, vms in qemu_processes(self.inodes).items()
        }

    def sample(self) -> dict[str, list[str]]:
        """VM -> the hosts where a QEMU executes it."""
        where: dict[str, list[str]] = {}
        for host, vms in self.executing().items():
            for vm in vms:
                where.setdefault(vm, []).append(host)
        return where

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            seen = self.executing()
            self.samples += 1
            for vm, places in confirm_doubles(seen).items():
                if all(st not in NOT_EXECUTING for _, _, st in places):
                    self.doubles[vm] = self.doubles.get(vm, 0) + 1
                    self.events.append((time.monotonic(), vm, [h for h, _, _ in places]))

    def mark(self, what: str) -> None:
        self.marks.append((time.monotonic(), what))

    def timeline(self) -> list[str]:
        """The double samples, each after the last phase mark before it."""
        out = []
        for t, vm, hosts in self.events:
            before = [m for m in self.marks if m[0] <= t]
            label, t0 = (before[-1][1], before[-1][0]) if before else ("start", t)
            out.append(f"{label}+{t - t0:.1f}s {vm} on {','.join(hosts)}")
        return out


def _items(reply: Any) -> list[dict[str, Any]]:
    body = reply.body if reply.status == 200 else None
    return list(body.get("items") or []) if isinstance(body, dict) else []


# Runs the peer with LeaseRenewer(plug=True) whatever the daemon passes (--plug):
# to measure the fence with and without pulling the plug.
PLUG_SHIM = (
    "import sys\n"
    "import peer.ha.lease as lease\n"
    "init = lease.LeaseRenewer.__init__\n"
    "def plugged(self, *a, **kw):\n"
    "    kw['plug'] = True\n"
    "    init(self, *a, **kw)\n"
    "lease.LeaseRenewer.__init__ = plugged\n"
    "from peer.cli.main import main\n"
    "sys.exit(main(['peer', '--config', sys.argv[1]]))\n"
)


# A guest not seen executing on another host within this many seconds of its
# host's fault counts as a failover of this long in the percentiles (at least:
# it may never have come back).
FAILOVER_BOUND_S = 120.0
# Targets: HA fails over in under 10 s (fence_after 6 s + margin 2 s + a pass).
TARGETS = {"failover_p50_s": "<= 10", "failover_p99_s": "<= 10"}

FAULTS = {"kill": "kill -9 of every process in the host's namespace", "partition": "link down"}


def nearest_rank(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1) of sorted values by the nearest-rank rule."""
    return sorted_values[max(0, min(len(sorted_values), math.ceil(q * len(sorted_values))) - 1)]


def lab_figures(
    n_vms: int = 4, plug: bool = False, injections: int = 20, fault: str = "kill"
) -> dict[str, Any]:
    """A maintenance drain (``migration_s``), then ``injections`` faults on one lab:
    each kills -9 (``fault="kill"``) or cuts off (``"partition"``: link down) the
    host running the most HA guests (never the previous victim), times each of its
    guests until a live QEMU for it runs on another host (by process, in the host
    namespaces), brings the host back and waits until it is a voter again with a
    live lease and every guest runs at its placement, before the next one."""
    from chaos.client import PeerClient
    from chaos.lab import Lab

    if fault not in ("kill", "partition"):
        raise ValueError(f"fault must be kill or partition, not {fault!r}")
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="qxhb", dir="/tmp"))  # short: unix socket paths
    cmd = ["{python}", "-c", PLUG_SHIM, "{config}"] if plug else None
    lab = Lab("ha" + secrets.token_hex(3), root, peer_cmd=cmd)
    try:
        hosts = lab.up(3)
        api = {h.name: PeerClient(h.name, str(h.dir / "peer.sock"), timeout=10) for h in hosts}

        def nodes(via: str) -> dict[str, dict[str, Any]]:
            return {n["id"]: n for n in _items(api[via].get("/nodes"))}

        def vm(via: str, vid: str) -> dict[str, Any]:
            r = api[via].get(f"/vms/{vid}")
            return r.body if r.status == 200 and isinstance(r.body, dict) else {}

        def running_on(via: str, vid: str) -> str | None:
            v = vm(via, vid)
            st = v.get("status") or {}
            ok = st.get("state") == "running" and st.get("epoch") == v.get("placement_epoch")
            return st.get("node") if ok and st.get("node") == v.get("placement") else None

        wait_for(lambda: len(nodes("h1")) == 3, 240, "three nodes")
        # The guests boot the test guest's kernel, so "running" means a booted OS.
        boot = register_test_guest(LocalApi(hosts[0].dir / "peer.sock", 15))
        ids = []
        for i in range(n_vms):
            spec = {**guest_vm(f"ha{i}", boot, memory_mib=128), "desired": "running"}
            # Every guest is restarted many times: lift the per-VM limit (3 per hour).
            ha = {"enabled": True, "max_restarts": min(100, max(3, 2 * injections))}
            r = api["h1"].request("POST", "/vms", {**spec, "ha": ha})
            if r.status not in (200, 201):
                raise RuntimeError(f"lab: creating a VM failed: {r.status} {r.body}")
            ids.append(r.body["id"])
        wait_for(lambda: all(running_on("h1", v) for v in ids), 240, "the guests running")
        host_of = {nid: str(n.get("hostname")) for nid, n in nodes("h1").items()}
        netns = {h.name: h.netns for h in hosts}
        setup_s = time.monotonic() - started

        def busiest(via: str = "h1") -> tuple[str, list[str]]:
            where = {v: running_on(via, v) for v in ids}
            counts = [n for n in where.values() if n]
            top = str(max(set(counts), key=lambda n: (counts.count(n), n)))
            return top, [v for v, n in where.items() if n == top]

        def next_victim(killed_at: dict[str, int]) -> tuple[str, list[str]]:
            """The host killed least recently among those running a guest (the
            leader's host too), then the busiest: the faults go round the hosts."""
            where = {v: running_on("h1", v) for v in ids}
            on = {n: [v for v, w in where.items() if w == n] for n in where.values() if n}
            top = min(on, key=lambda n: (killed_at.get(host_of[n], -1), -len(on[n]), n))
            return top, on[top]

        def peer(name: str) -> dict[str, Any]:
            r = api[name].get("/peer", timeout=3)
            return r.body if r.status == 200 and isinstance(r.body, dict) else {}

        def healthy(via: str) -> bool:
            """Every host a voter with a live lease, no host judged dead, every
            guest running at its placement (as ``via`` sees it)."""
            raft = [peer(h.name).get("raft") or {} for h in hosts]
            addrs = [r.get("address") for r in raft]
            lead = [r for r in raft if r.get("role") == "leader"]
            voters = set(lead[0].get("voters") or []) if lead else set()
            if not (all(a in voters for a in addrs) and len(voters) == len(hosts)):
                return False
            if any(r.get("role") not in ("leader", "follower") for r in raft):
                return False
            c = api[via].get("/cluster")
            members = c.body.get("members", []) if isinstance(c.body, dict) else []
            ages = [m.get("lease_age_s") for m in members]
            if len(ages) != len(hosts) or any(a is None or a > 3.0 for a in ages):
                return False
            return all(running_on(via, v) for v in ids)

        took: list[float] = []  # one figure per guest per injection
        rounds: list[dict[str, Any]] = []
        migration: float | None = None
        drain_error = fault_error = None
        with QemuWatch(netns) as watch:
            # 1. A maintenance drain of the host running the most guests (fresh hosts).
            busy, drain = busiest()
            t1 = time.monotonic()
            watch.mark(f"drain {host_of.get(busy)}")
            api["h1"].request("PATCH", f"/nodes/{busy}", {"maintenance": True})
            try:
                wait_for(
                    lambda: all(running_on("h1", v) not in (None, busy) for v in drain),
                    120,
                    "the drained guests running elsewhere",
                )
                migration = (time.monotonic() - t1) / max(1, len(drain))
            except WaitTimeout as e:
                drain_error = str(e)
            api["h1"].request("PATCH", f"/nodes/{busy}", {"maintenance": False})
            # 1b. A 256 MiB test guest moved live through the API (bench.migration).
            try:
                live = live_migration_figures(hosts, boot=boot)
            except (AssertionError, RuntimeError) as e:
                live = {"migration_s": None, "migration_error": str(e)}
            # 2. Faults, one host at a time, each undone before the next.
            killed_at: dict[str, int] = {}
            faults_from = time.monotonic()
            for i in range(injections):
                try:
                    wait_for(lambda: healthy("h1"), 180, f"a healthy cluster before fault {i + 1}")
                except WaitTimeout as e:
                    fault_error = str(e)  # report what was measured up to here
                    break
                victim_id, moved = next_victim(killed_at)
                victim = host_of[victim_id]
                survivor = next(h.name for h in hosts if h.name != victim)
                was_leader = peer(victim).get("raft", {}).get("role") == "leader"
                watch.mark(f"{fault} {victim}")
                t0 = time.monotonic()
                if fault == "kill":
                    lab.kill(victim)  # kill -9 every process in its namespace
                else:
                    lab.exec(victim, ["ip", "link", "set", "eth0", "down"])
                # Seconds until a QEMU executes each guest on another host (by process).
                pending, these = set(moved), []
                while pending and time.monotonic() < t0 + FAILOVER_BOUND_S:
                    where = watch.sample()
                    now = time.monotonic()
                    for v in sorted(pending):
                        if any(h != victim for h in where.get(v, [])):
                            these.append(now - t0)
                            pending.discard(v)
                    time.sleep(0.05)
                # Not seen elsewhere within the bound: at least the bound, in the figures.
                these += [FAILOVER_BOUND_S] * len(pending)
                took += these
                watch.mark(f"{victim} back")
                if fault == "kill":
                    lab.start(victim)
                else:
                    lab.exec(victim, ["ip", "link", "set", "eth0", "up"])
                back = time.monotonic()
                try:
                    wait_for(partial(healthy, survivor), 180, f"{victim} to rejoin as a voter")
                except WaitTimeout as e:
                    fault_error = str(e)
                rounds.append(
                    {
                        "victim": victim,
                        "leader": was_leader,
                        "vms": len(moved),
                        "failover_s": [round(t, 2) for t in these],
                        "missed": len(pending),
                        "rejoin_s": round(time.monotonic() - back, 1),
                    }
                )
                killed_at[victim] = i
                if fault_error is not None:
                    break
            watch.mark("all faults done")
            time.sleep(5)  # the last returning host: its stale copies must stay down
        took.sort()
        # Failures of the leader's code in the peers' logs (there should be none).
        errors = sorted(
            {
                line.strip()[:200]
                for h in hosts
                for line in h.log.read_text(errors="replace").splitlines()
                if ("peer/ha/" in line or "peer/scheduler/" in line or "leader pass" in line)
            }
        )
        missed = sum(r["missed"] for r in rounds)
        p99 = nearest_rank(took, 0.99) if took else None
        broken = missed or errors or fault_error or drain_error
        logs = keep_logs(lab, "ha") if broken or not meets(p99, TARGETS["failover_p99_s"]) else None
        # The figure is over the faults; the drain's double samples are reported apart.
        doubles = [e for e in watch.events if e[0] >= faults_from]
        lead = sorted(t for r in rounds if r["leader"] for t in r["failover_s"])
        return {
            "failover_p50_s": round(statistics.median(took), 2) if took else None,
            "failover_p99_s": round(p99, 2) if p99 is not None else None,
            "failover_max_s": round(took[-1], 2) if took else None,
            "failover_injections": len(rounds),
            "failover_samples": len(took),
            "failover_missed": missed,  # not seen elsewhere within the bound (counted as it)
            "failover_leader_victims": sum(r["leader"] for r in rounds),
            "failover_rounds": rounds,
            "failover_fault": fault,
            "failover_error": fault_error,
            "failover_leader_max_s": lead[-1] if lead else None,
            "double_runs": len(doubles),
            "double_run_vms": sorted({vm for _, vm, _ in doubles}),
            "double_run_samples": [x for x in watch.timeline() if not x.startswith("drain")][:20],
            "migration_double_runs": len(watch.events) - len(doubles),  # during the drain
            "qemu_samples": watch.samples,
            **live,
            "drain_s_per_vm": round(migration, 2) if migration is not None else None,
            "drain_error": drain_error,
            "migration_note": "migration_s: a 256 MiB test guest moved live by the API's migrate, "
            "call to running on the target (median of 3); drain_s_per_vm: a maintenance drain "
            "of the HA test guests (128 MiB), per VM",
            "note": f"lab: 3 peers, {n_vms} HA test guests (kernel + initramfs, 128 MiB) under "
            "TCG; failover: "
            f"{FAULTS[fault]} until a QEMU executing the guest runs on another host",
            "fence_plug": plug,
            "lab_setup_s": round(setup_s, 1),
            "lab_total_s": round(time.monotonic() - started, 1),
            "leader_errors": errors[:10],
            "logs": logs,
        }
    except BaseException:
        keep_logs(lab, "ha")
        raise
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)
