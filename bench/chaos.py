"""``python -m bench chaos [--json]``: what the chaos harness measures over its scenarios.

Runs ``quantix chaos run`` (default: every scenario, 5 hosts, 30 s each, seed 1)
on fresh labs, or with ``--from DIR`` sums up the reports of an earlier run.

Figures:
  scenarios_run       scenarios that ran to the end
  faults_injected     faults the nemesis injected over all scenarios
  lost_writes         acknowledged creates lost + acknowledged deletes undone (must be 0)
  nonlinearizable     registers whose CAS history has no linearization (must be 0)
  double_runs         VMs seen live on two hosts at once (must be 0)
  max_unavailable_s   longest stretch without an ok answer on the majority side
  ha_recovery_p99_s   p99 of HA VM down times (from stop seen to running again)
  failed_checks       scenario:checker pairs that failed
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.verdict import Report


def summarize(out: Path) -> dict[str, Any]:
    runs = []
    for p in sorted(out.glob("*/result.json")):
        runs.append(json.loads(p.read_text()))
    recoveries: list[float] = []
    failed = []
    for r in runs:
        for v in r["verdicts"]:
            if v["checker"] == "ha":
                recoveries += v["evidence"].get("recoveries_s", [])
            if v["status"] == "fail":
                failed.append(f"{r['config']['scenario']}:{v['checker']}")
        if r.get("error"):
            failed.append(f"{r['config']['scenario']}:run_error")
    recoveries.sort()
    figs = [r["figures"] for r in runs]
    gaps = [f["max_unavailable_s"] for f in figs if f.get("max_unavailable_s") is not None]
    return {
        "scenarios_run": sum(1 for r in runs if not r.get("error")),
        "nodes": sorted({r["config"]["nodes"] for r in runs}),
        "seeds": sorted({r["config"]["seed"] for r in runs}),
        "faults_injected": sum(f.get("faults_injected", 0) for f in figs),
        "operations": sum(f.get("operations", 0) for f in figs),
        "lost_writes": sum(f.get("lost_writes", 0) for f in figs),
        "nonlinearizable": sum(f.get("nonlinearizable_registers", 0) for f in figs),
        "double_runs": sum(f.get("double_runs") or 0 for f in figs),
        "max_unavailable_s": max(gaps) if gaps else None,
        "ha_recoveries": len(recoveries),
        "ha_recovery_p99_s": recoveries[min(len(recoveries) - 1, int(0.99 * len(recoveries)))]
        if recoveries
        else None,
        "failed_checks": failed,
        "report": str(out),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench chaos")
    p.add_argument("--json", action="store_true")
    p.add_argument("--from", dest="src", type=Path, help="sum up an existing report folder")
    p.add_argument("--scenario", default="all")
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    out = args.src
    if out is None:
        from chaos.cli import main as chaos_main

        out = Path(tempfile.mkdtemp(prefix="qx-bench-chaos-"))
        chaos_main(["run", args.scenario, "--nodes", str(args.nodes), "--duration",
                    str(args.duration), "--seed", str(args.seed), "--out", str(out),
                    "--root", str(out / "labs")])  # fmt: skip
    res = summarize(out)
    r = Report("bench chaos")
    for k, v in res.items():
        r.note(k, v)
    for k in INVARIANTS:
        r.check(k, res.get(k) == 0, f"{res.get(k)}")
    r.check("every check passed", not res["failed_checks"], ", ".join(res["failed_checks"]))
    r.check("every scenario ran", res["scenarios_run"] > 0, f"{res['scenarios_run']} ran")
    return r.emit(args.json)


# Counts that must be zero in every scenario (the checkers' verdicts).
INVARIANTS = ("lost_writes", "double_runs", "nonlinearizable")
