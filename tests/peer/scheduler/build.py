"""Hand-written cluster states for the scheduler and HA tests."""

from __future__ import annotations

from typing import Any

from peer.scheduler.model import ClusterState
from raft.commands import Record

NOW = 1_000.0


def host(hid: str, cpus: int = 8, mem: int = 16384, state: str = "active", labels=None, pools=()):
    return (
        hid,
        {
            "hostname": hid,
            "state": state,
            "labels": labels or {},
            "resources": {"cpus": cpus, "memory_mib": mem, "pools": list(pools)},
        },
    )


def vm(
    vid: str,
    vcpus: int = 1,
    mem: int = 1024,
    placement: str | None = None,
    *,
    pool: str | None = "shared",
    ha: bool | dict[str, Any] = False,
    priority: int = 0,
    desired: str = "running",
    selector: dict[str, str] | None = None,
    epoch: int = 0,
    **extra: Any,
):
    ha_block = ha if isinstance(ha, dict) else {"enabled": ha, "priority": priority}
    value: dict[str, Any] = {
        "name": vid,
        "vcpus": vcpus,
        "memory_mib": mem,
        "disks": [{"id": "d0", "pool": pool}] if pool else [],
        "ha": ha_block,
        "labels": {},
        "desired": desired,
        "placement": placement,
        "placement_epoch": epoch,
    }
    if selector:
        value["node_selector"] = selector
    value.update(extra)
    return (vid, value)


def records(table: str, items) -> list[Record]:
    return [Record(table, k, 1, 1, v) for k, v in items]


def cluster(
    hosts,
    vms=(),
    *,
    pools=(("shared", {"type": "dir", "shared": True}),),
    groups=(),
    status=(),
    leases: dict[str, float] | None = None,
    now: float = NOW,
) -> ClusterState:
    lease_times = leases if leases is not None else {h: now for h, _ in hosts}
    return ClusterState.from_records(
        nodes=records("nodes", hosts),
        leases=records("leases", [(h, {"renewed_at": t}) for h, t in lease_times.items()]),
        vms=records("vms", vms),
        pools=records("pools", pools),
        groups=records("groups", groups),
        status=records("vm_status", status),
    )


def running(vid: str, node: str, epoch: int = 0):
    return (vid, {"node": node, "epoch": epoch, "state": "running"})
