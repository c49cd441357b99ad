"""``python -m bench cluster [--json]``: how fast lab hosts form a cluster, and what idling costs.

Figures (the lab, real namespaces, real mDNS, real peers):
  form_N_s          ``lab up --nodes N`` until every host's /api/v1/health reports quorum,
                    exactly one is the Raft leader and the leader has all the voters
                    it wants (3, or 5 from 5 hosts up) (N = 3, 5, 16, 32)
  join_s            one more host added to the formed 3-host cluster, until it is in
  idle_cpu_pct      mean CPU % of one host's processes, cluster formed and idle
  rss_mb            mean resident memory of one host's processes (MiB)
  mdns_packets_per_min  mDNS packets on the lab bridge, per minute, at rest

``--discovery-only`` runs ``python -m discovery announce`` as each host's
process instead of the peer (no daemon needed): form_N_s is then the time
until every host's table lists all the others.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from chaos.lab import Lab, poll_until
from chaos.lab.http import ApiError, get_json
from chaos.lab.system import netns_pids

CLK_TCK = 100  # os.sysconf("SC_CLK_TCK") on Linux


def health(lab: Lab) -> list[dict[str, Any] | None]:
    def one(url: str) -> dict[str, Any] | None:
        try:
            body = get_json(url + "api/v1/health", timeout=5.0)  # 32 peers on 2 cores: slow
            return body if isinstance(body, dict) else None
        except ApiError:
            return None

    urls = [h.url for h in lab.hosts()]
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, urls))


def formed(lab: Lab, n: int) -> bool:
    hs = health(lab)
    if len(hs) != n or any(h is None or not h.get("has_quorum") for h in hs):
        return False
    # Formed = the leader has promoted as many voters as it wants (peer/membership.py:
    # 3 below 5 hosts, then 5); the others stay read-only "replica"s by design.
    voters = sum(1 for h in hs if h and h.get("raft_role") in ("leader", "follower"))
    leaders = sum(1 for h in hs if h and h.get("raft_role") == "leader")
    return leaders == 1 and voters == min(n, 3 if n < 5 else 5)


def discovery_formed(lab: Lab, n: int) -> bool:
    for h in lab.hosts():
        seen: set[str] = set()
        try:
            lines = h.log.read_text().splitlines()
        except OSError:
            return False
        for line in lines:
            if line.startswith("{"):
                e = json.loads(line)
                if e.get("event") == "added":
                    seen.add(e["node_id"])
                elif e.get("event") == "removed":
                    seen.discard(e["node_id"])
        if len(seen) < n - 1:
            return False
    return True


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total / 1024


def idle_costs(lab: Lab, seconds: float) -> tuple[float, float]:
    """(mean CPU % per host, mean RSS MiB per host) over ``seconds``."""
    pids = {h.name: netns_pids(h.netns) for h in lab.hosts()}
    t0, before = time.monotonic(), {k: cpu_ticks(v) for k, v in pids.items()}
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    after = {k: cpu_ticks(v) for k, v in pids.items()}
    cpu = [100.0 * (after[k] - before[k]) / CLK_TCK / elapsed for k in pids]
    rss = [rss_mib(v) for v in pids.values()]
    return round(sum(cpu) / len(cpu), 2), round(sum(rss) / len(rss), 1)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench cluster")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sizes", default="3,5,16,32", help="cluster sizes to form")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait per formation")
    p.add_argument("--idle", type=float, default=20.0, help="seconds of idle measurement")
    p.add_argument("--discovery-only", action="store_true", help="announcers instead of peers")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    root = Path(tempfile.mkdtemp(prefix="qx-bench-"))
    peer_cmd = None
    check = formed
    if args.discovery_only:
        peer_cmd = [sys.executable, "-m", "discovery", "announce", "--node-id", "{host}",
                    "--address", "{address}", "--cluster", "{cluster}"]  # fmt: skip
        check = discovery_formed
    out: dict[str, Any] = {"mode": "discovery-only" if args.discovery_only else "peers"}
    for n in sizes:
        lab = Lab(f"bc{n}", root, peer_cmd=peer_cmd)
        try:
            lab.up(n)
            # From the last peer's start (lab.up starts them one after another and
            # returns right after the last), as the issue defines it.
            t0 = time.monotonic()
            ok = poll_until(partial(check, lab, n), args.timeout, interval=0.1)
            out[f"form_{n}_s"] = round(time.monotonic() - t0, 2) if ok else None
            if not ok:
                out.setdefault("errors", []).append(
                    f"{n} hosts did not form; see {lab.dir}/h1/peer.log"
                )
                continue
            if n == sizes[0]:
                t0 = time.monotonic()
                lab.add_host()
                ok = poll_until(partial(check, lab, n + 1), args.timeout, interval=0.25)
                out["join_s"] = round(time.monotonic() - t0, 2) if ok else None
                time.sleep(5)  # let the join's traffic die down before measuring rest
                out["idle_cpu_pct"], out["rss_mb"] = idle_costs(lab, args.idle)
                out["mdns_packets_per_min"] = round(lab.mdns_packets(args.idle) * 60 / args.idle)
                out["mdns_hosts"] = n + 1
            elif n == sizes[-1]:
                out[f"mdns_packets_per_min_{n}"] = round(
                    lab.mdns_packets(args.idle) * 60 / args.idle
                )
        finally:
            lab.down()
    root.rmdir()
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for k, v in out.items():
            print(f"{k:28} {v}")
    return 0 if not out.get("errors") else 1
