"""``python -m discovery {announce,browse}``: see mDNS from a host's point of view.

Both print one JSON object per table change on stdout ("event": added / updated /
removed / decision), flushed, until SIGINT/SIGTERM; ``announce`` then says goodbye.
Handy inside the lab (``quantix lab exec h1 -- python -m discovery browse ...``)
and used by the namespace tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from discovery.errors import DiscoveryError
from discovery.model import Announcement, Role, SeenHost
from discovery.service import Discovery


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def _host(h: SeenHost) -> dict[str, Any]:
    i = h.info
    return {"node_id": i.node_id, "address": h.address, "cluster": i.cluster_name,
            "cluster_id": i.cluster_id, "role": i.role, "api_port": i.api_port}  # fmt: skip


async def _run(args: argparse.Namespace) -> int:
    role: Role = args.role or ("factory" if not args.cluster else "joining")
    me = Announcement(
        node_id=args.node_id, cluster_name=args.cluster, cluster_id=args.cluster_id,
        api_port=args.api_port, raft_port=args.raft_port, version=args.version, role=role,
    )  # fmt: skip
    d = Discovery(me, args.address, interface=args.interface, ttl=args.ttl)
    d.subscribe(lambda event, h: _emit({"event": event, **_host(h)}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await d.async_start()
    _emit({"event": "started", "node_id": me.node_id, "address": d.address})
    last = ""
    conflicts: set[str] = set()
    while not stop.is_set():
        for sb in d.split_brains():
            if sb.describe() not in conflicts:
                conflicts.add(sb.describe())
                _emit({"event": "split_brain", "cluster": sb.cluster_name,
                       "instances": {k: list(v) for k, v in sb.instances.items()}})  # fmt: skip
        if args.decide:
            dec = d.decide(args.settle)
            text = f"{dec.action}:{dec.target.node_id if dec.target else ''}"
            if text != last:
                _emit({"event": "decision", "action": dec.action, "reason": dec.reason,
                       "target": dec.target.node_id if dec.target else None})  # fmt: skip
                last = text
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    await d.async_stop()
    _emit({"event": "stopped", "node_id": me.node_id})
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m discovery")
    p.add_argument("mode", choices=["announce", "browse"])
    p.add_argument("--address", help="management IPv4 address")
    p.add_argument("--interface", help="management interface (address re-read on change)")
    p.add_argument("--node-id", default="browser")
    p.add_argument("--cluster", default="", help="cluster name ('' = factory state)")
    p.add_argument("--cluster-id", default="")
    p.add_argument("--role", choices=["factory", "joining", "member", "leader"])
    p.add_argument("--api-port", type=int, default=8443)
    p.add_argument("--raft-port", type=int, default=8444)
    p.add_argument("--version", default="0")
    p.add_argument("--ttl", type=int, default=15)
    p.add_argument("--decide", action="store_true", help="also print bootstrap decisions")
    p.add_argument("--settle", type=float, default=2.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        return asyncio.run(_run(args))
    except DiscoveryError as e:
        print(f"discovery: {e.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
