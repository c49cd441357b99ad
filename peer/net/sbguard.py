"""Who may reach the southbound database: only the hosts' tunnel addresses.

The southbound ``ovsdb-server`` of the central host listens on its data address
without TLS (docs/network.md). With ``firewall: true`` in node.yaml the central
host keeps its own nftables table, ``inet quantix_ovn``, that accepts port 6642
only from the tunnel addresses in ``ovn/chassis:*`` and drops everyone else's
packets. (Addresses can be forged on a shared segment: TLS with the peers'
certificates is what closes this fully; not done yet.) The script is pure.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
from collections.abc import Iterable

TABLE = "inet quantix_ovn"


class GuardError(Exception):
    """nft refused the rules."""


def script(port: int, allowed: Iterable[str]) -> str:
    addrs = sorted({str(ipaddress.IPv4Address(a)) for a in allowed})
    out = (
        f"add table {TABLE}\n"
        f"delete table {TABLE}\n"
        f"table {TABLE} {{\n"
        "  set chassis { type ipv4_addr; }\n"
        "  chain input {\n"
        "    type filter hook input priority -10; policy accept;\n"
        f"    tcp dport {int(port)} ip saddr @chassis accept\n"
        f"    tcp dport {int(port)} drop\n"
        "  }\n"
        "}\n"
    )
    if addrs:
        out += f"add element {TABLE} chassis {{ {', '.join(addrs)} }}\n"
    return out


def remove_script() -> str:
    return f"add table {TABLE}\ndelete table {TABLE}\n"


async def apply(text: str) -> None:
    def run() -> None:
        try:
            done = subprocess.run(["nft", "-f", "-"], input=text, capture_output=True,
                                  text=True, timeout=10, check=False)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GuardError(f"cannot run nft: {e}") from None
        if done.returncode != 0:
            raise GuardError(f"nft refused the rules: {done.stderr.strip()[:300]}")

    await asyncio.to_thread(run)
