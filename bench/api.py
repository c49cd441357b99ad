"""API latency under load on the real cluster, leader and follower apart.

``python -m bench api [--json] [--clients 1,2,4,8,16] [--requests N]
[--url URL ... --token T [--insecure]]``

Without ``--url`` it starts a 3-host lab itself (``chaos.lab``: one peer per
network namespace, HTTPS with the peers' own certificates, Raft with fsync),
makes an operator token over h1's local socket and measures that lab. With
``--url`` (one per peer) it measures a running cluster (no CPU figures: its
processes are not ours to read).

For each number of concurrent clients (default 1, 2, 4, 8, 16), four phases,
each client on its own VM (commit latency, not compare-and-set retries):

``read_leader`` / ``read_follower``    ``GET /api/v1/vms/{id}`` on that peer
``write_leader`` / ``write_follower``  ``PATCH /api/v1/vms/{id}`` (a labels change,
                                       committed before the answer) through that
                                       peer (a follower forwards to the leader)

Keys: ``c{clients}_{phase}_p50_ms`` / ``_p99_ms`` / ``_per_s``, and in the lab
``c{clients}_{phase}_leader_cpu_pct`` / ``_follower_cpu_pct`` (each peer's whole
process, % of one core over the phase), ``_cpu_ms_per_req`` (the three peers'
CPU per request) and ``_bench_cpu_pct`` (this load generator). Targets, with 16
clients: read p99 <= 10 ms on either peer, write p99 <= 30 ms through the leader.
A failed request is a broken invariant. On a miss the peers' logs are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.verdict import Report, keep_logs

CLK_TCK = os.sysconf("SC_CLK_TCK")
PHASES = ("read_leader", "read_follower", "write_leader", "write_follower")
TARGETS = {
    "read_leader_p99_ms": "<= 10",
    "read_follower_p99_ms": "<= 10",
    "write_leader_p99_ms": "<= 30",
}
TARGET_CLIENTS = 16


def _pct(xs: Sequence[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 2)


def _ticks(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class Target:
    """The cluster under test: peer URLs, a token, and (in the lab) peer pids."""

    urls: list[str]
    token: str
    tls: ssl.SSLContext | bool
    pids: dict[str, int] = field(default_factory=dict)  # url -> the peer's pid


def _lab_tls() -> ssl.SSLContext:
    # The lab's peers present self-signed certificates: TLS runs in full, only
    # the chain is not checked (addresses on this machine's lab bridge only).
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start_lab(root: Path) -> tuple[Any, Target]:
    """A 3-host lab, formed, with an operator token made over h1's local socket."""
    from bench.cluster import formed
    from chaos.lab import Lab
    from chaos.lab.system import netns_pids
    from testkit.localapi import LocalApi
    from testkit.wait import wait_for

    lab = Lab("ba" + secrets.token_hex(3), root)
    try:
        hosts = lab.up(3)
        wait_for(lambda: formed(lab, 3), 180, "the 3-host lab to form", 0.5)
        api = LocalApi(hosts[0].dir / "peer.sock", timeout=15)
        wait_for(lambda: api.get("/users/admin"), 60, "the admin user")
        status, body = api.post(
            "/tokens", {"name": "bench-api", "user": "admin", "role": "operator"}
        )
        if status != 201:
            raise RuntimeError(f"cannot make a token: {status} {body}")
        pids: dict[str, int] = {}
        for h in hosts:
            peer = [p for p in netns_pids(h.netns) if b"peer" in _cmdline(p)]
            if peer:
                pids[h.url.rstrip("/")] = peer[0]
        return lab, Target([h.url.rstrip("/") for h in hosts], str(body["token"]), _lab_tls(), pids)
    except BaseException:
        lab.down()
        raise


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


async def _roles(s: aiohttp.ClientSession, urls: list[str]) -> tuple[str, str]:
    """(the leader's URL, a follower's URL), from each peer's own status."""
    leader = follower = None
    for u in urls:
        async with s.get(f"{u}/api/v1/peer") as r:
            st = await r.json()
        if (st.get("raft") or {}).get("role") == "leader":
            leader = u
        elif follower is None:
            follower = u
    if leader is None or follower is None:
        raise RuntimeError(f"no leader and follower among {urls}")
    return leader, follower


@dataclass
class Phase:
    latencies: list[float]
    wall_s: float
    errors: list[str]
    cpu_pct: dict[str, float]  # url -> % of one core over the phase
    bench_cpu_pct: float


async def _phase(
    s: aiohttp.ClientSession,
    target: Target,
    clients: int,
    n: int,
    make: Callable[[int, int], tuple[str, str, Any]],
) -> Phase:
    lat: list[float] = []
    errors: list[str] = []

    async def client(i: int) -> None:
        for k in range(n):
            method, url, body = make(i, k)
            t0 = time.perf_counter()
            async with s.request(method, url, json=body) as r:
                await r.read()
                if r.status >= 400:
                    errors.append(f"{method} {r.status}")
                    continue
            lat.append(time.perf_counter() - t0)

    before = {u: _ticks(p) for u, p in target.pids.items()}
    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    bench_cpu = (time.process_time() - c0) / wall * 100
    cpu = {u: (_ticks(p) - before[u]) / CLK_TCK / wall * 100 for u, p in target.pids.items()}
    return Phase(lat, wall, errors, cpu, bench_cpu)


async def measure(
    target: Target,
    client_counts: list[int],
    n: int,
    report: Report,
    phases: Sequence[str] = PHASES,
) -> None:
    headers = {"Authorization": f"Bearer {target.token}"}
    conn = aiohttp.TCPConnector(ssl=target.tls, limit=max(client_counts) * 2)
    async with aiohttp.ClientSession(headers=headers, connector=conn) as s:
        leader, follower = await _roles(s, target.urls)
        report.note("leader", leader)
        report.note("follower", follower)
        tag = secrets.token_hex(3)
        vms = []
        for i in range(max(client_counts)):
            async with s.post(
                f"{leader}/api/v1/vms",
                json={"name": f"bench-{tag}-{i}", "vcpus": 1, "memory_mib": 64},
            ) as r:
                if r.status != 201:
                    raise RuntimeError(f"cannot create bench VMs: {r.status} {await r.text()}")
                vms.append((await r.json())["id"])
        errors: list[str] = []
        try:
            for c in client_counts:
                at = {"leader": leader, "follower": follower}
                for ph in phases:
                    kind, side = ph.split("_")
                    url = at[side]

                    def make(
                        i: int, k: int, url: str = url, kind: str = kind
                    ) -> tuple[str, str, Any]:
                        if kind == "read":
                            return "GET", f"{url}/api/v1/vms/{vms[i]}", None
                        return "PATCH", f"{url}/api/v1/vms/{vms[i]}", {"labels": {"b": str(k)}}

                    # At least ~200 requests per phase so that p99 means something.
                    res = await _phase(s, target, c, max(n, -(-200 // c)), make)
                    errors += res.errors
                    key = f"c{c}_{ph}"
                    target_key = f"{ph}_p99_ms"
                    report.figure(f"{key}_p50_ms", _pct(res.latencies, 50))
                    report.figure(
                        f"{key}_p99_ms",
                        _pct(res.latencies, 99),
                        TARGETS.get(target_key) if c == TARGET_CLIENTS else None,
                    )
                    report.figure(f"{key}_per_s", round(len(res.latencies) / res.wall_s, 1))
                    if res.cpu_pct:
                        report.figure(f"{key}_leader_cpu_pct", round(res.cpu_pct[leader], 1))
                        report.figure(f"{key}_follower_cpu_pct", round(res.cpu_pct[follower], 1))
                        per_req = sum(res.cpu_pct.values()) / 100 * res.wall_s * 1000
                        report.figure(
                            f"{key}_cpu_ms_per_req",
                            round(per_req / max(1, len(res.latencies)), 2),
                        )
                    report.figure(f"{key}_bench_cpu_pct", round(res.bench_cpu_pct, 1))
        finally:
            for vid in vms:
                async with s.delete(f"{leader}/api/v1/vms/{vid}?force=true") as r:
                    await r.read()
        report.check("no failed request", not errors, f"{len(errors)} failed: {errors[:5]}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench api", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--url", action="append", default=[], help="a peer's https://host:port (repeat)")
    p.add_argument("--token", default=os.environ.get("QUANTIX_TOKEN"), help="operator token")
    p.add_argument("--insecure", action="store_true", help="skip certificate checks")
    p.add_argument("--clients", default="1,2,4,8,16", help="concurrent clients, comma-separated")
    p.add_argument(
        "--requests", type=int, default=100, help="per client and phase (at least 200/c)"
    )
    a = p.parse_args(argv)
    if a.url and not a.token:
        p.error("--url needs --token (or QUANTIX_TOKEN)")
    counts = [int(c) for c in a.clients.split(",") if c]
    report = Report("bench api")
    report.note("load_before", round(os.getloadavg()[0], 2))
    lab = root = None
    if a.url:
        tls: ssl.SSLContext | bool = _lab_tls() if a.insecure else True
        target = Target([u.rstrip("/") for u in a.url], a.token, tls)
        report.note("mode", "cluster at --url")
    else:
        root = Path(tempfile.mkdtemp(prefix="qxba", dir="/tmp"))
        lab, target = start_lab(root)
        report.note("mode", "3-host lab (TLS, Raft, fsync), started by the bench")
    try:
        try:
            asyncio.run(measure(target, counts, a.requests, report))
        except (RuntimeError, aiohttp.ClientError, OSError) as e:
            report.check("the run completed", False, str(e))
        report.note("load_after", round(os.getloadavg()[0], 2))
        if lab is not None and not report.ok:
            report.note("logs", keep_logs(lab, "api"))
    finally:
        if lab is not None:
            lab.down()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return report.emit(a.json)
