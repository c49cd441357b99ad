"""``quantix os-rollout BUNDLE``: roll a Quantix-OS update through the cluster."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, leaf
from peer.cli.errors import EXIT_FAILED
from peer.osimage import rollout


async def os_rollout(args: argparse.Namespace, c: ApiClient) -> int:
    result = await rollout.run(
        c, Path(args.bundle), drain_s=args.drain_timeout, boot_s=args.boot_timeout
    )
    if args.output == "json":
        print(json.dumps({"version": result.version, "ok": result.ok,
                          "hosts": [vars(h) for h in result.hosts]}))  # fmt: skip
    else:
        for h in result.hosts:
            print(f"{h.node:<16} {h.outcome:<12} {h.seconds:>7.1f} s  {h.detail}")
    return 0 if result.ok else EXIT_FAILED


def register(sub: Sub) -> None:
    p = leaf(
        sub,
        "os-rollout",
        "install a Quantix-OS update bundle on every host, one at a time (docs/os.md)",
        os_rollout,
    )
    p.add_argument("bundle", help="quantix-os-<version>.bundle (from make image)")
    p.add_argument("--drain-timeout", type=float, default=600, help="seconds to evacuate a host")
    p.add_argument("--boot-timeout", type=float, default=900, help="seconds for a host to return")
