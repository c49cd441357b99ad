"""API latency and throughput with 16 concurrent clients.

``python -m bench api [--json] [--url URL ...] [--token T] [--insecure]``

With ``--url`` (one per peer, e.g. the 3-peer lab) it measures the real cluster:
reads spread over every peer; writes through the leader and, separately,
through a follower (whose writes are forwarded to the leader). Without it, it
serves an app on an in-process LocalStore on loopback and says so ("mode").

Reads: ``GET /api/v1/vms/{id}`` (a local read). Writes: ``PATCH /api/v1/vms/{id}``
(a labels change, committed before the answer), each client on its own VM so
the figures are commit latency, not compare-and-set retries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web


def _pct(xs: Sequence[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 2)


async def _in_process() -> tuple[web.AppRunner, str, str]:
    """An app on a LocalStore on a loopback port, with an operator token."""
    from peer.api.app import build_app
    from peer.auth.roles import Role
    from peer.auth.tokens import make_token
    from peer.auth.users import user_value
    from peer.config import NodeConfig
    from peer.context import PeerContext
    from raft.store import LocalStore, put

    store = LocalStore("bench")
    ctx = PeerContext(
        config=NodeConfig(data_dir=Path(tempfile.mkdtemp()), cluster_name="bench"),
        store=store,
        node_id="bench",
        hostname="bench",
        address="127.0.0.1",
    )
    tok = make_token("bench", Role.OPERATOR, "bench", None, created_by="bench")
    await store.commit(
        [
            put("users", "bench", user_value(Role.OPERATOR, "scrypt$x")),
            put("tokens", tok.id, tok.value),
        ]
    )
    runner = web.AppRunner(build_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}", tok.token


async def _roles(s: aiohttp.ClientSession, urls: list[str]) -> tuple[str, str | None]:
    """(a leader URL, a follower URL or None), from each peer's own status."""
    leader_url, follower_url = urls[0], None
    for u in urls:
        async with s.get(f"{u}/api/v1/peer") as r:
            st = await r.json()
        if (st.get("raft") or {}).get("role") == "leader":
            leader_url = u
        elif follower_url is None:
            follower_url = u
    return leader_url, follower_url


async def _timed(
    s: aiohttp.ClientSession, method: str, url: str, body: Any, out: list[float], errors: list[str]
) -> None:
    t0 = time.perf_counter()
    async with s.request(method, url, json=body) as r:
        await r.read()
        if r.status >= 400:
            errors.append(f"{method} {r.status}")
            return
    out.append(time.perf_counter() - t0)


async def _phase(
    s: aiohttp.ClientSession, clients: int, n: int, make: Any
) -> tuple[list[float], float, list[str]]:
    lat: list[float] = []
    errors: list[str] = []

    async def client(i: int) -> None:
        for k in range(n):
            method, url, body = make(i, k)
            await _timed(s, method, url, body, lat, errors)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return lat, time.perf_counter() - t0, errors


async def run(
    urls: list[str], token: str | None, insecure: bool, clients: int, n: int
) -> dict[str, Any]:
    runner = None
    mode = "cluster"
    if not urls:
        runner, url, token = await _in_process()
        urls, mode = [url], "in-process LocalStore (no --url given)"
    headers = {"Authorization": f"Bearer {token}"}
    conn = aiohttp.TCPConnector(ssl=not insecure, limit=clients * 2)
    try:
        async with aiohttp.ClientSession(headers=headers, connector=conn) as s:
            leader, follower = await _roles(s, urls) if mode == "cluster" else (urls[0], None)
            tag = secrets.token_hex(3)
            vms = []
            for i in range(clients):
                async with s.post(
                    f"{leader}/api/v1/vms",
                    json={"name": f"bench-{tag}-{i}", "vcpus": 1, "memory_mib": 64},
                ) as r:
                    if r.status != 201:
                        raise SystemExit(f"cannot create bench VMs: {r.status} {await r.text()}")
                    vms.append((await r.json())["id"])
            try:
                reads, rt, rerr = await _phase(
                    s,
                    clients,
                    n,
                    lambda i, k: ("GET", f"{urls[(i + k) % len(urls)]}/api/v1/vms/{vms[i]}", None),
                )
                lw, lwt, lerr = await _phase(
                    s,
                    clients,
                    n,
                    lambda i, k: (
                        "PATCH",
                        f"{leader}/api/v1/vms/{vms[i]}",
                        {"labels": {"bench": str(k)}},
                    ),
                )
                fw: list[float] = []
                ferr: list[str] = []
                if follower:
                    fw, _, ferr = await _phase(
                        s,
                        clients,
                        n,
                        lambda i, k: (
                            "PATCH",
                            f"{follower}/api/v1/vms/{vms[i]}",
                            {"labels": {"bench": f"f{k}"}},
                        ),
                    )
            finally:
                for vid in vms:
                    async with s.delete(f"{leader}/api/v1/vms/{vid}?force=true") as r:
                        await r.read()
    finally:
        if runner is not None:
            await runner.cleanup()
    return {
        "mode": mode,
        "urls": urls,
        "leader": leader,
        "follower": follower,
        "clients": clients,
        "requests_per_client": n,
        "read_p50_ms": _pct(reads, 50),
        "read_p99_ms": _pct(reads, 99),
        "write_p50_ms": _pct(lw, 50),
        "write_p99_ms": _pct(lw, 99),
        "write_follower_p50_ms": _pct(fw, 50),
        "write_follower_p99_ms": _pct(fw, 99),
        "reads_per_s": round(len(reads) / rt, 1) if rt else None,
        "writes_per_s": round(len(lw) / lwt, 1) if lwt else None,
        "read_mean_ms": round(statistics.fmean(reads) * 1000, 2) if reads else None,
        "errors": len(rerr) + len(lerr) + len(ferr),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench api", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--url", action="append", default=[], help="a peer's https://host:port (repeat)")
    p.add_argument("--token", default=os.environ.get("QUANTIX_TOKEN"), help="operator token")
    p.add_argument("--insecure", action="store_true", help="skip certificate checks (lab)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=100, help="per client and phase")
    a = p.parse_args(argv)
    if a.url and not a.token:
        p.error("--url needs --token (or QUANTIX_TOKEN)")
    res = asyncio.run(
        run([u.rstrip("/") for u in a.url], a.token, a.insecure, a.clients, a.requests)
    )
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:<24} {v}")
    return 0 if res["errors"] == 0 else 1
