"""The host's own firewall for the ports only certain peers may reach (nftables).

Behind ``firewall: true`` in node.yaml (off by default: a machine that is not a
dedicated host keeps its own rules). One table, ``inet quantix``, replaced whole
when installed, with two sets:

* ``raft_members``: the members' addresses. Only they reach the Raft port; a
  stranger's packets are dropped before pysyncobj sees them (the adapter's
  frame limits are the second line). Kept in step with the ``nodes`` table by
  ``peer/raftguard.py``.
* ``migration_sources``: ``address . port`` pairs, each for one incoming live
  migration: QEMU listens on a port of ``migration_ports`` and only that
  migration's source host may connect to it (peer/reconciler/live.py). Elements
  time out by themselves, so a crash leaves nothing open.

The scripts are pure (tested without nft); ``Firewall`` runs ``nft -f -`` with
them (argument lists only; every address is parsed as IPv4 first). In the lab
each host runs in its own network namespace, so its rules are its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import subprocess
from collections.abc import Iterable, Sequence

log = logging.getLogger("peer.firewall")

TABLE = "inet quantix"
MIGRATION_TTL_S = 900  # longer than the source's 600 s migration timeout


class FirewallError(Exception):
    """nft refused a script (not installed, no permission, a bad rule)."""


def _addrs(addrs: Iterable[str]) -> list[str]:
    return sorted({str(ipaddress.IPv4Address(a)) for a in addrs})


def ruleset(raft_port: int, migration_ports: tuple[int, int], members: Iterable[str]) -> str:
    """The whole table (replacing any previous one in the same transaction)."""
    lo, hi = migration_ports
    if not (1 <= raft_port <= 65535 and 1 <= lo <= hi <= 65535):
        raise ValueError("ports must be within 1..65535")
    return (
        f"add table {TABLE}\n"
        f"delete table {TABLE}\n"
        f"table {TABLE} {{\n"
        "  set raft_members { type ipv4_addr; }\n"
        "  set migration_sources { type ipv4_addr . inet_service; flags timeout; }\n"
        "  chain input {\n"
        "    type filter hook input priority -10; policy accept;\n"
        f"    tcp dport {raft_port} ip saddr @raft_members accept\n"
        f"    tcp dport {raft_port} drop\n"
        f"    tcp dport {lo}-{hi} ip saddr . tcp dport @migration_sources accept\n"
        f"    tcp dport {lo}-{hi} drop\n"
        "  }\n"
        "}\n"
    ) + members_script(members)


def members_script(members: Iterable[str]) -> str:
    """Replace the members set atomically."""
    addrs = _addrs(members)
    out = f"flush set {TABLE} raft_members\n"
    if addrs:
        out += f"add element {TABLE} raft_members {{ {', '.join(addrs)} }}\n"
    return out


def allow_script(source: str, port: int, ttl_s: int = MIGRATION_TTL_S) -> str:
    (src,) = _addrs([source])
    return f"add element {TABLE} migration_sources {{ {src} . {int(port)} timeout {ttl_s}s }}\n"


def revoke_script(source: str, port: int) -> str:
    (src,) = _addrs([source])
    return f"delete element {TABLE} migration_sources {{ {src} . {int(port)} }}\n"


class Firewall:
    def __init__(
        self, raft_port: int, migration_ports: tuple[int, int], nft: Sequence[str] = ("nft",)
    ) -> None:
        """``nft``: the command (tests run it in a namespace: ``ip netns exec NS nft``)."""
        self.raft_port, self.migration_ports, self.nft = raft_port, migration_ports, list(nft)
        self.members: list[str] = []

    def _run(self, script: str) -> None:
        try:
            done = subprocess.run(
                [*self.nft, "-f", "-"],
                input=script,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise FirewallError(f"cannot run nft: {e}") from None
        if done.returncode != 0:
            raise FirewallError(f"nft refused the rules: {done.stderr.strip()[:300]}")

    async def install(self, members: Iterable[str]) -> None:
        self.members = _addrs(members)
        await asyncio.to_thread(
            self._run, ruleset(self.raft_port, self.migration_ports, self.members)
        )
        log.info("firewall installed", extra={"raft_members": ",".join(self.members)})

    async def set_members(self, members: Iterable[str]) -> bool:
        """Replace the Raft members set; False when it was already that."""
        want = _addrs(members)
        if want == self.members:
            return False
        await asyncio.to_thread(self._run, members_script(want))
        self.members = want
        log.info("raft members allowed", extra={"raft_members": ",".join(want)})
        return True

    async def allow_migration(self, source: str, port: int) -> None:
        await asyncio.to_thread(self._run, allow_script(source, port))

    async def revoke_migration(self, source: str, port: int) -> None:
        # Already gone (timed out) is fine: nothing is open.
        with contextlib.suppress(FirewallError):
            await asyncio.to_thread(self._run, revoke_script(source, port))

    async def remove(self) -> None:
        await asyncio.to_thread(self._run, f"add table {TABLE}\ndelete table {TABLE}\n")
