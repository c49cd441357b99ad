"""The host console's cost: start time (until the main screen shows the peer's
data) and memory, against a real peer in a one-host lab.

``python -m bench console [--json] [--runs N]`` (root: it starts a lab and tmux)

The console runs in a detached 100x30 tmux session exactly as a user would see
it; "start" is from ``tmux new-session`` until the captured screen shows the
host's role and CPU bar. RSS is read from /proc after the console has been
refreshing for a few seconds (``VmRSS``) and its peak (``VmHWM``); idle CPU is
the console's user+system time over 10 s of refreshing once a second.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.verdict import Report

READY = re.compile(r"Role:\s+\S+.*\n(?:.*\n)*?\s+CPU:\s+\[[#.]+\] \d+%")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_ticks(pid: int) -> int:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def _capture(name: str) -> str:
    return subprocess.run(
        ["tmux", "-L", name, "capture-pane", "-p", "-t", name],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def _one_run(sock: Path, measure_idle: bool) -> dict[str, Any]:
    name = "qxbench-" + secrets.token_hex(3)
    repo = Path(__file__).resolve().parents[1]
    tmux = ["tmux", "-L", name]  # a private tmux server: nobody else's sessions matter
    cmd = ["env", "-u", "LINES", "-u", "COLUMNS", sys.executable, "-m", "console.main"]
    t0 = time.monotonic()
    size = ["-x", "100", "-y", "30", "-c", str(repo)]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", name, *size, *cmd, "--socket", str(sock)], check=True
    )
    try:
        deadline = t0 + 60
        while not READY.search(_capture(name)):
            if time.monotonic() > deadline:
                raise RuntimeError("the console did not show the main screen in 60 s")
            time.sleep(0.02)
        start_s = time.monotonic() - t0
        pid = int(
            subprocess.run(
                [*tmux, "list-panes", "-t", name, "-F", "#{pane_pid}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
        )
        out: dict[str, Any] = {"start_s": round(start_s, 3)}
        if measure_idle:
            time.sleep(3)  # a few refreshes first
            ticks0, w0 = _cpu_ticks(pid), time.monotonic()
            time.sleep(10)
            ticks1, w1 = _cpu_ticks(pid), time.monotonic()
            hz = os.sysconf("SC_CLK_TCK")
            out["idle_cpu_percent"] = round(100.0 * (ticks1 - ticks0) / hz / (w1 - w0), 2)
            out["rss_mib"] = round(_status_kib(pid, "VmRSS") / 1024, 1)
            out["peak_rss_mib"] = round(_status_kib(pid, "VmHWM") / 1024, 1)
        return out
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)


def _python_baseline_mib() -> float:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        time.sleep(1)
        return round(_status_kib(p.pid, "VmRSS") / 1024, 1)
    finally:
        p.kill()
        p.wait()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench console")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=5, help="console starts to time")
    args = ap.parse_args(argv)
    from chaos.lab import Lab

    lab = Lab("b" + secrets.token_hex(3), Path(tempfile.mkdtemp(prefix="qx-bench-console-")))
    try:
        (host,) = lab.up(1)
        sock = host.dir / "peer.sock"
        from testkit.localapi import LocalApi
        from testkit.wait import wait_for

        api = LocalApi(sock)
        wait_for(lambda: api.get("/cluster")["leader"], 90, "the lab cluster")
        runs = [_one_run(sock, measure_idle=i == 0) for i in range(max(1, args.runs))]
    finally:
        lab.down()
    starts = [r["start_s"] for r in runs]
    res = {
        "start_s_median": round(statistics.median(starts), 3),
        "start_s_min": min(starts),
        "start_s_max": max(starts),
        "rss_mib": runs[0]["rss_mib"],
        "peak_rss_mib": runs[0]["peak_rss_mib"],
        "idle_cpu_percent": runs[0]["idle_cpu_percent"],
        "python_baseline_rss_mib": _python_baseline_mib(),
        "runs": len(runs),
        "load_1m": os.getloadavg()[0],
    }
    r = Report("bench console")
    for k, v in res.items():
        r.figure(k, v)  # no promised figure yet: printed, not judged
    return r.emit(args.json)
