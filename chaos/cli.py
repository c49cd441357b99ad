"""``quantix chaos run SCENARIO|all --nodes N --duration S --seed S [--out DIR]``.

Each scenario runs on a fresh lab and writes ``<out>/<scenario>/result.json`` and
``index.html``; ``<out>/summary.json`` and ``<out>/index.html`` sum them up.
Exit status 0 when every invariant held, 1 when one was violated (or a run broke),
2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from chaos.lab import DEFAULT_ROOT
from chaos.report import load_results, markdown_table, write_report, write_summary
from chaos.runner import Run, RunConfig, RunResult
from chaos.scenarios import PROFILES, SCENARIOS, scenario_names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quantix chaos", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run scenarios on fresh labs and write reports")
    r.add_argument("scenario", help=f"all, or comma-separated of: {', '.join(SCENARIOS)}")
    r.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help="defaults for nodes/duration/registers/HA VMs (short: 3 hosts, every kind once)",
    )
    r.add_argument("--nodes", type=int, default=None)
    r.add_argument("--duration", type=float, default=None, help="seconds of faults per scenario")
    r.add_argument("--seed", type=int, default=None, help="replays a run exactly (default: time)")
    r.add_argument(
        "--out", type=Path, default=None, help="report folder (default chaos-reports/<seed>)"
    )
    r.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="lab root")
    r.add_argument(
        "--no-lifecycle", action="store_true", help="no VM create/start/stop/delete workload"
    )
    r.add_argument("--no-migrations", action="store_true", help="no live migrations of the HA VMs")
    r.add_argument("--ha-vms", type=int, default=None)
    r.add_argument("-v", "--verbose", action="store_true")
    sub.add_parser("list", help="list scenarios and profiles")
    t = sub.add_parser(
        "table", help="redraw a report folder's pages and summary; print scenarios x checkers"
    )
    t.add_argument("folder", type=Path)
    return p


def config_for(args: argparse.Namespace, scenario: str, seed: int) -> RunConfig:
    prof = PROFILES[args.profile or "short"]
    return RunConfig(
        scenario=scenario,
        kinds=SCENARIOS[scenario],
        nodes=args.nodes or prof.nodes,
        duration=args.duration if args.duration is not None else prof.duration,
        seed=seed,
        every_kind_once=prof.every_kind_once,
        registers=prof.registers,
        ha_vms=args.ha_vms if args.ha_vms is not None else prof.ha_vms,
        lifecycle=not args.no_lifecycle,
        migrations=not args.no_migrations,
        lab_root=args.root,
    )


def run_all(args: argparse.Namespace) -> tuple[list[RunResult], Path]:
    names = scenario_names(args.scenario)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    out = args.out or Path("chaos-reports") / str(seed)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in names:
        print(f"chaos: {name} (seed {seed}) ...", file=sys.stderr, flush=True)
        res = Run(config_for(args, name, seed)).execute()
        write_report(res, out / name)
        print(f"chaos: {name}: {res.status} -> {out / name / 'index.html'}", file=sys.stderr)
        results.append(res)
    write_summary(results, out)
    return results, out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.cmd == "list":
        for name, kinds in SCENARIOS.items():
            print(f"{name:18} {', '.join(kinds)}")
        for pname, prof in PROFILES.items():
            print(f"profile {pname}: {prof}")
        return 0
    if args.cmd == "table":
        results = load_results(args.folder)
        for r in results:
            write_report(r, args.folder / r.config["scenario"])
        write_summary(results, args.folder)
        print(markdown_table(json.loads((args.folder / "summary.json").read_text())))
        return 0
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        results, out = run_all(args)
    except ValueError as e:
        print(f"quantix chaos: {e}", file=sys.stderr)
        return 2
    summary: list[dict[str, Any]] = [
        {"scenario": r.config["scenario"], "status": r.status, **r.figures} for r in results
    ]
    print(json.dumps({"out": str(out), "runs": summary}, indent=1))
    return 0 if all(r.status != "fail" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
