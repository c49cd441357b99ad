"""What the main screen shows, gathered from the local peer's API."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from console.client import LocalClient
from console.errors import ApiRefused, ConsoleError


@dataclass
class Snapshot:
    """One refresh's worth of API answers (``error`` when the peer is unreachable)."""

    peer: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    node: dict[str, Any] | None = None
    health: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    vms_here: int = 0
    vms_running_here: int = 0
    error: str | None = None
    taken_at: float = 0.0  # monotonic

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.peer)


def fetch(client: LocalClient) -> Snapshot:
    snap = Snapshot(taken_at=time.monotonic())
    try:
        snap.peer = client.get("/peer")
        snap.cluster = client.get("/cluster")
        snap.health = client.get("/health")
        snap.host = client.get("/host/status")
        node_id = snap.peer.get("node_id")
        if node_id and (snap.peer.get("raft") or {}).get("role") not in ("factory", "joining"):
            try:
                snap.node = client.get(f"/nodes/{node_id}")
            except ApiRefused as e:
                if e.status != 404:
                    raise
            vms = client.get(f"/vms?node={node_id}&limit=1000").get("items") or []
            snap.vms_here = len(vms)
            snap.vms_running_here = sum(1 for v in vms if _state(v) == "running")
    except ConsoleError as e:
        snap.error = str(e)
    return snap


def _state(vm: dict[str, Any]) -> str:
    status = vm.get("status")
    if isinstance(status, dict):
        return str(status.get("state"))
    return str(vm.get("state") or status or "")
