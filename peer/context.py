"""What the daemon hands to the parts it runs (API, reconciler, leader loops).

One object, built once by ``peer.daemon``; parts read what they need from it and
attach the services they own under ``services`` so others can find them (for
example the hypervisor driver, which the VM API and the reconciler share).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peer import __version__
from peer.config import NodeConfig
from raft.store import Store


@dataclass
class PeerContext:
    config: NodeConfig
    store: Store
    node_id: str
    hostname: str
    address: str  # management IPv4
    version: str = __version__
    started_at: float = field(default_factory=time.time)
    # Named services the daemon started: "driver", "discovery", "reconciler", ...
    services: dict[str, Any] = field(default_factory=dict)
    # This host's conditions, published in its node record by peer.node_record:
    # {type: message} (types in peer.scheduler.model.BLOCKING_CONDITIONS keep VMs away).
    conditions: dict[str, str] = field(default_factory=dict)
    # Extra status the daemon reports (discovery state, join errors, ...).
    status_providers: list[Callable[[], dict[str, Any]]] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        """This peer's view of itself and the cluster (for /health, /status, the console)."""
        st: dict[str, Any] = {
            "node_id": self.node_id,
            "hostname": self.hostname,
            "address": self.address,
            "version": self.version,
            "uptime_s": round(time.time() - self.started_at, 1),
            "cluster_name": self.config.cluster_name,
            "raft": self.store.status(),
            # Equal on replicas that applied the same commands (chaos convergence check).
            "state_hash": self.store.state_hash(),
            "revision": self.store.revision,
        }
        for provider in self.status_providers:
            st.update(provider())
        return st
