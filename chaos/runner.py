"""One chaos run: a fresh lab, workloads, the nemesis, healing, checkers, a report.

lab up (peers under the clock shim, data dirs on tmpfs) -> formed
-> registers and HA VMs made -> observer + workloads start
-> the schedule's faults, one at a time, each undone on exit
-> sweep, recovery, workloads stop -> convergence polled
-> final consistent reads -> checkers -> result.json + index.html
-> lab down (always)
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos import faults as fl
from chaos.checkers import FAIL, Verdict, worst
from chaos.checkers.availability import check_availability
from chaos.checkers.convergence import check_convergence, round_problems
from chaos.checkers.registers import check_linearizable, check_reads_written
from chaos.checkers.sets import check_sets
from chaos.checkers.vms import Outage, check_double_run, check_ha
from chaos.client import OK, PeerClient
from chaos.faults.clock import PEER_CMD, set_offset
from chaos.faults.disk import mount_data_tmpfs
from chaos.history import History
from chaos.lab import Lab, poll_until
from chaos.nemesis import Step, schedule
from chaos.observer import Observer
from chaos.workloads import MigrateWorker, RegisterWorker, SetWorker, Values, VmWorker

log = logging.getLogger("chaos.runner")


@dataclass
class RunConfig:
    scenario: str
    kinds: list[str]
    nodes: int = 3
    duration: float = 60.0
    seed: int = 1
    every_kind_once: bool = False
    registers: int = 3
    ha_vms: int = 2
    lifecycle: bool = True
    migrations: bool = True  # live-migrate the HA VMs during the run
    watchdog_s: float = 6.0  # = the peers' fence_after (docs/ha.md)
    ha_bound_s: float = 45.0
    outage_bound_s: float = 150.0
    availability_bound_s: float = 30.0
    recovery_s: float = 10.0
    converge_timeout_s: float = 120.0
    data_tmpfs_mib: int | None = 96  # None: no tmpfs (no disk_full fault)
    lab_root: Path = Path("/var/lib/quantix-lab")
    lab_name: str = ""


@dataclass
class RunResult:
    config: dict[str, Any]
    schedule: list[dict[str, Any]]
    faults: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    status: str
    figures: dict[str, Any]
    history: dict[str, Any]
    hosts: dict[str, str] = field(default_factory=dict)  # host -> node id
    ha_vms: dict[str, str] = field(default_factory=dict)  # vm id -> name
    host_logs: dict[str, list[str]] = field(default_factory=dict)  # silent hosts' log tails
    final_set: list[str] | None = None  # the consistent list read after healing
    convergence_rounds: list[dict[str, Any]] = field(default_factory=list)  # the last few
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def target_voters(n: int) -> int:
    return min(n, 3 if n < 5 else 5)


def formed(clients: dict[str, PeerClient]) -> bool:
    roles = []
    for c in clients.values():
        r = c.get("/health", timeout=2)
        if r.status != 200 or not isinstance(r.body, dict) or not r.body.get("has_quorum"):
            return False
        roles.append(r.body.get("raft_role"))
    voters = sum(1 for x in roles if x in ("leader", "follower"))
    return roles.count("leader") == 1 and voters >= target_voters(len(clients))


def peer_round(clients: dict[str, PeerClient]) -> dict[str, dict[str, Any] | None]:
    rnd: dict[str, dict[str, Any] | None] = {}
    for h, c in clients.items():
        p = c.get("/peer", timeout=2)
        cl = c.get("/cluster", timeout=2)
        if p.status != 200 or cl.status != 200 or not isinstance(p.body, dict):
            rnd[h] = None
            continue
        raft = p.body.get("raft") or {}
        members = [m["node_id"] for m in cl.body.get("members", []) if m.get("state") == "active"]
        rnd[h] = {
            "node_id": p.body.get("node_id"),
            "role": raft.get("role"),
            "leader": raft.get("leader"),
            "has_quorum": raft.get("has_quorum"),
            "revision": p.body.get("revision"),
            "state_hash": p.body.get("state_hash"),
            "members": members,
        }
    return rnd


class Run:
    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.name = cfg.lab_name or "x" + secrets.token_hex(3)
        self.lab = Lab(self.name, cfg.lab_root, peer_cmd=list(PEER_CMD))
        self.history = History()
        self.stop_workers = threading.Event()
        self.stop_nemesis = threading.Event()
        self.workers: list[threading.Thread] = []
        self.observer: Observer | None = None
        self.clients: dict[str, PeerClient] = {}
        self.fault_log: list[dict[str, Any]] = []
        self.fault_errors: list[str] = []
        self.host_logs: dict[str, list[str]] = {}
        self.final_set: set[str] | None = None
        self.rounds: list[dict[str, dict[str, Any] | None]] = []
        self.ha_vms: dict[str, str] = {}
        self.reg_keys = [f"reg-{k}" for k in range(cfg.registers)]

    # -- phases ----------------------------------------------------------------

    def up(self) -> None:
        hosts = self.lab.up(self.cfg.nodes, start=False)
        for h in hosts:
            set_offset(self.lab, h.name, 0)
            if self.cfg.data_tmpfs_mib:
                mount_data_tmpfs(h.data_dir, self.cfg.data_tmpfs_mib)
            self.lab.start(h.name)
        self.clients = {h.name: PeerClient(h.name, str(h.dir / "peer.sock")) for h in hosts}
        if not poll_until(lambda: formed(self.clients), 240, interval=1.0):
            raise RuntimeError(f"lab {self.name}: the cluster did not form within 240 s")

    def must(self, method: str, path: str, body: Any, accept: tuple[int, ...]) -> Any:
        last: Any = None

        def once() -> bool:
            nonlocal last
            c = self.clients[sorted(self.clients)[0]]
            r = c.request(method, path, body)
            last = r
            return r.status in accept

        if not poll_until(once, 60, interval=1.0):
            raise RuntimeError(f"{method} {path}: {last}")
        return last.body

    def setup(self) -> None:
        for k in self.reg_keys:
            self.must("POST", "/networks", {"name": k, "bridge": "brreg"}, (201, 409))
        for i in range(self.cfg.ha_vms):
            spec = {
                "name": f"ha-{i}",
                "vcpus": 1,
                "memory_mib": 32,
                "desired": "running",
                "ha": {"enabled": True, "max_restarts": 100, "window_s": 3600},
            }
            body = self.must("POST", "/vms", spec, (201,))
            self.ha_vms[str(body["id"])] = f"ha-{i}"
        assert self.observer is not None
        obs = self.observer

        def all_running() -> bool:
            s = obs.sample_qemu()
            return all(any(vm in vms for vms in s.values()) for vm in self.ha_vms)

        if not poll_until(all_running, 120, interval=1.0):
            r = self.clients[sorted(self.clients)[0]].get("/vms")
            seen = (
                {
                    v.get("name"): (
                        v.get("placement"),
                        (v.get("status") or {}).get("state"),
                        (v.get("status") or {}).get("error"),
                    )
                    for v in (r.body or {}).get("items", [])
                }
                if isinstance(r.body, dict)
                else r.code
            )
            raise RuntimeError(f"the HA VMs did not start within 120 s: {seen}")

    def start_workers(self) -> None:
        values = Values()
        seed = self.cfg.seed
        hosts = sorted(self.clients)
        for i, h in enumerate(hosts):
            c = self.clients[h]
            self.workers.append(
                RegisterWorker(
                    f"reg{i + 1}",
                    self.history,
                    self.stop_workers,
                    seed * 1000 + i,
                    c,
                    self.reg_keys,
                    values,
                )
            )
            self.workers.append(
                SetWorker(f"set{i + 1}", self.history, self.stop_workers, seed * 1000 + 100 + i, c)
            )
        if self.cfg.lifecycle:
            self.workers.append(
                VmWorker(
                    "vm1",
                    self.history,
                    self.stop_workers,
                    seed * 1000 + 200,
                    [self.clients[h] for h in hosts],
                )
            )
        if self.cfg.migrations:
            self.workers.append(
                MigrateWorker(
                    "mig1",
                    self.history,
                    self.stop_workers,
                    seed * 1000 + 300,
                    [self.clients[h] for h in hosts],
                    sorted(self.ha_vms),
                )
            )
        for w in self.workers:
            w.start()

    def nemesis(self, steps: list[Step]) -> None:
        everyone = sorted(self.clients)
        t0 = self.history.now()
        for step in steps:
            if self.stop_nemesis.wait(max(0.0, t0 + step.at - self.history.now())):
                return
            fault = fl.build(self.lab, step.to_json(), self.cfg.watchdog_s, self.clients)
            rec: dict[str, Any] = {
                **fault.describe(),
                "start": self.history.now(),
                "planned_s": step.duration,
                "up_hosts": fault.up_hosts(everyone),
                "whole_cluster": fault.whole_cluster_down(),
            }
            self.fault_log.append(rec)
            self.history.sample("fault", event="start", fault=fault.kind, hosts=fault.hosts)
            log.info("fault %s on %s for %.1f s", fault.kind, fault.hosts, step.duration)
            try:
                with fault:
                    fault.hold(step.duration, self.stop_nemesis)
            except Exception as e:  # a harness problem: recorded, the run goes on
                log.exception("fault %s failed", fault.kind)
                rec["error"] = f"{e.__class__.__name__}: {e}"
                self.fault_errors.append(f"{fault.kind}: {rec['error']}")
            finally:
                rec.update(fault.describe())
                rec["end"] = self.history.now()
                rec["notes"] = fault.notes
                self.history.sample("fault", event="end", fault=fault.kind, hosts=fault.hosts)

    def converge(self) -> tuple[list[dict[str, dict[str, Any] | None]], float]:
        rounds: list[dict[str, dict[str, Any] | None]] = []
        t = time.monotonic()

        def ok() -> bool:
            rnd = peer_round(self.clients)
            rounds.append(rnd)
            return not round_problems(rnd)

        poll_until(ok, self.cfg.converge_timeout_s, interval=0.3)
        return rounds[-200:], round(time.monotonic() - t, 1)

    def log_tails(
        self, rnd: dict[str, dict[str, Any] | None], lines: int = 40
    ) -> dict[str, list[str]]:
        """The end of the peer log of every host that did not answer in ``rnd``."""
        out: dict[str, list[str]] = {}
        for h in sorted(self.clients):
            if rnd.get(h) is None:
                try:
                    text = self.lab.host(h).log.read_text(errors="replace")
                except OSError as e:
                    text = f"(no log: {e})"
                out[h] = text.splitlines()[-lines:]
        return out

    def wait_ha_running(self) -> None:
        """Give HA VMs still down after healing up to the HA bound to run again, so a
        VM that never comes back shows as a late recovery, not a short one cut off."""
        obs = self.observer
        assert obs is not None

        def all_live() -> bool:
            s = obs.sample_qemu()
            live = {vm for vms in s.values() for vm, (_, st) in vms.items() if st not in "TZX"}
            return set(self.ha_vms) <= live

        poll_until(all_live, self.cfg.ha_bound_s, interval=1.0)

    def final_reads(self) -> set[str] | None:
        hosts = sorted(self.clients)
        for i, k in enumerate(self.reg_keys):
            c = self.clients[hosts[i % len(hosts)]]
            w = RegisterWorker("final", self.history, self.stop_workers, 0, c, [k], Values())
            for _ in range(10):
                if w.read(k).type == OK:
                    break
        for h in hosts:
            r = self.clients[h].get("/networks?consistent=true&limit=1000&q=set-", timeout=10)
            if r.outcome == OK and isinstance(r.body, dict):
                return {str(x["id"]) for x in r.body["items"] if str(x["id"]).startswith("set-")}
        return None

    # -- the whole run -----------------------------------------------------------

    def execute(self) -> RunResult:
        cfg = self.cfg
        steps = schedule(
            cfg.seed,
            cfg.kinds,
            [f"h{i + 1}" for i in range(cfg.nodes)],
            cfg.duration,
            watchdog_s=cfg.watchdog_s,
            every_kind_once=cfg.every_kind_once,
        )
        verdicts: list[Verdict] = []
        error = None
        host_ids: dict[str, str] = {}
        try:
            self.up()
            self.observer = Observer(
                self.history, {h.name: h.netns for h in self.lab.hosts()}, self.clients
            )
            self.setup()
            host_ids = {
                h: str(self.clients[h].get("/peer").body.get("node_id")) for h in self.clients
            }
            self.history.t0 = time.monotonic()  # the timeline starts with the workload
            self.history.samples.clear()
            self.observer.start()
            self.start_workers()
            work_start = self.history.now()
            self.nemesis(steps)
            fl.sweep(self.lab)
            heal_t = self.history.now()
            self.stop_workers.wait(cfg.recovery_s)
            self.stop_workers.set()
            for w in self.workers:
                w.join(timeout=30)
            rounds, waited = self.converge()
            self.rounds = rounds
            self.host_logs = self.log_tails(rounds[-1] if rounds else {})
            self.wait_ha_running()
            final_set = self.final_set = self.final_reads()
            self.observer.close()
            end = self.history.now()
            verdicts = self.check(rounds, waited, final_set, work_start, heal_t, end)
            if any(v.status == FAIL for v in verdicts):  # keep every host's story
                self.host_logs = self.log_tails({}, lines=300)
        except Exception as e:  # the report says what broke; the lab still goes down
            log.exception("run failed")
            error = f"{e.__class__.__name__}: {e}"
            with contextlib.suppress(Exception):
                self.host_logs = self.log_tails({}, lines=300)
        finally:
            self.stop_nemesis.set()
            self.stop_workers.set()
            try:
                if self.observer is not None:
                    self.observer.close()
            finally:
                self.teardown()
        if self.fault_errors and error is None:
            error = "faults failed: " + "; ".join(self.fault_errors)
        status = worst([v.status for v in verdicts]) if verdicts else FAIL
        if error:
            status = FAIL
        return RunResult(
            config={**asdict(cfg), "lab_root": str(cfg.lab_root), "lab_name": self.name},
            schedule=[s.to_json() for s in steps],
            faults=self.fault_log,
            verdicts=[v.to_json() for v in verdicts],
            status=status,
            figures=figures(verdicts, self.fault_log, self.history),
            history=self.history.to_json(),
            hosts=host_ids,
            ha_vms=self.ha_vms,
            host_logs=self.host_logs,
            final_set=sorted(self.final_set) if self.final_set is not None else None,
            convergence_rounds=self.rounds[-5:],
            error=error,
        )

    def check(
        self,
        rounds: list[dict[str, dict[str, Any] | None]],
        waited: float,
        final_set: set[str] | None,
        work_start: float,
        heal_t: float,
        end: float,
    ) -> list[Verdict]:
        ops = list(self.history.ops)
        qemu = self.history.samples_of("qemu")
        outages = [Outage(f["start"], f["end"] + 60) for f in self.fault_log if f["whole_cluster"]]
        everyone = sorted(self.clients)
        phases: list[dict[str, Any]] = []
        t = work_start
        for f in self.fault_log:
            if f["start"] > t:
                phases.append(
                    {"name": "quiet", "start": t, "end": f["start"], "majority": everyone}
                )
            phases.append(
                {"name": f["kind"], "start": f["start"], "end": f["end"], "majority": f["up_hosts"]}
            )
            t = f["end"]
        phases.append(
            {
                "name": "recovery",
                "start": t,
                "end": heal_t + self.cfg.recovery_s,
                "majority": everyone,
            }
        )
        # After a fault heals the cluster may need an election: count from then on
        # in the quiet phase that follows, not against the fault.
        return [
            check_linearizable(ops),
            check_reads_written(ops),
            check_sets(ops, final_set, "set-"),
            check_double_run(qemu),
            check_ha(qemu, self.ha_vms, end, self.cfg.ha_bound_s, outages, self.cfg.outage_bound_s),
            check_convergence(rounds, waited),
            check_availability(ops, phases, self.cfg.availability_bound_s),
        ]

    def teardown(self) -> None:
        with contextlib.suppress(Exception):
            if self.lab.exists():
                for h in self.lab.hosts():
                    with contextlib.suppress(Exception):
                        self.lab.kill(h.name)
        with contextlib.suppress(Exception):
            fl.sweep(self.lab, unmount_data=True)
        self.lab.down()


def figures(verdicts: list[Verdict], faults: list[dict[str, Any]], h: History) -> dict[str, Any]:
    by = {v.checker: v for v in verdicts}
    sets = by.get("sets")
    lin = by.get("linearizable")
    dr = by.get("double_run")
    av = by.get("availability")
    ha = by.get("ha")
    lost = 0
    if sets is not None:
        lost += len(sets.evidence.get("lost_creates", [])) + len(
            sets.evidence.get("undone_deletes", [])
        )
    roles = h.samples_of("roles")
    leaders = [
        next((x for x, v in s.data["hosts"].items() if v and v.get("role") == "leader"), None)
        for s in roles
    ]
    changes = sum(1 for a, b in itertools.pairwise(leaders) if b is not None and a != b)
    ops = [o for o in h.ops if o.type != "invoke"]
    return {
        "faults_injected": len(faults),
        "fault_kinds": sorted({f["kind"] for f in faults}),
        "operations": len(ops),
        "ok_operations": sum(1 for o in ops if o.type == OK),
        "lost_writes": lost,
        "nonlinearizable_registers": sum(
            1 for k in (lin.evidence.get("keys", []) if lin else []) if k["status"] == FAIL
        ),
        "double_runs": len(dr.evidence.get("vms", [])) if dr is not None else None,
        "max_unavailable_s": av.evidence.get("max_unavailable_s") if av is not None else None,
        "ha_recovery_p99_s": ha.evidence.get("p99_s") if ha is not None else None,
        "ha_recoveries": len(ha.evidence.get("recoveries_s", [])) if ha is not None else None,
        "leader_changes": changes,
        "migrations_accepted": sum(1 for o in ops if o.f == "vm_migrate" and o.type == OK),
        "vms_seen": len(
            {vm for s in h.samples_of("qemu") for v in s.data["hosts"].values() for vm in v}
        ),
    }
