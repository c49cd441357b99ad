"""The store a host has before it belongs to a cluster.

A factory-state or still-joining host serves its API (health, status, join,
adopt) before any Raft node runs. Reads see an empty state and every write is
refused with a clear NoQuorum, so nothing a user sends is silently kept on a
host that is not in a cluster.
"""

from __future__ import annotations

from typing import Any

from raft.errors import NoQuorum
from raft.store import Store


class PendingStore(Store):
    def __init__(self, node_id: str, role: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.role = role  # "factory" or "joining"

    async def _submit(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.role == "factory":
            raise NoQuorum("this host is in factory state: adopt it into a cluster first")
        raise NoQuorum("this host has not finished joining its cluster yet")

    def status(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "leader": None,
            "node_id": self.node_id,
            "term": 0,
            "commit_index": 0,
            "revision": 0,
            "members": [],
            "voters": [],
            "has_quorum": False,
        }
