"""Keeps the firewall's Raft members set (peer/firewall.py) in step with the cluster.

The members are every host in the ``nodes`` table that has not been removed,
plus the current voters (by their Raft address) and this host: a host is in the
set from the moment its join is committed, before its replica first connects,
and out once it is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from peer.firewall import Firewall, FirewallError
from raft.store import Store

log = logging.getLogger("peer.raftguard")


def member_addresses(
    nodes: list[tuple[str, dict[str, Any]]], voters: list[str], me: str
) -> set[str]:
    """Pure: the addresses allowed to reach the Raft port."""
    out = {me}
    for _key, n in nodes:
        if n.get("state") != "removed" and n.get("address"):
            out.add(str(n["address"]))
    out |= {v.rsplit(":", 1)[0] for v in voters}
    return out


class RaftGuard:
    def __init__(self, store: Store, firewall: Firewall, address: str) -> None:
        self.store, self.firewall, self.address = store, firewall, address
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def wanted(self) -> set[str]:
        nodes = [(r.key, dict(r.value)) for r in self.store.scan("nodes")]
        voters = list(getattr(self.store, "voters", list)())
        return member_addresses(nodes, voters, self.address)

    async def run(self) -> None:
        with self.store.watch(["nodes"], from_revision=self.store.revision) as w:
            while not self._stop.is_set():
                try:
                    await self.firewall.set_members(self.wanted())
                except (FirewallError, ValueError) as e:
                    log.error("cannot update the raft firewall: %s", e)
                with contextlib.suppress(TimeoutError):
                    # Any change to the nodes table, else a periodic check (voters).
                    await w.next(timeout=2.0)
