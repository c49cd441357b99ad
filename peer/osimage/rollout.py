"""Rolling an update bundle through the cluster, one host at a time, through the
API (``quantix os-rollout BUNDLE``): the caller's admin credentials do every step,
so no peer-to-peer trust is added.

For each host (the current leader last, so leadership moves once):

1. maintenance on (``PATCH /nodes/{id}``): the leader evacuates its VMs;
2. wait until no VM is placed there;
3. ``POST /host/os/update?node=`` with the bundle: the host verifies it, writes its
   inactive slot and reboots into it on trial;
4. wait until ``GET /host/os?node=`` answers with the bundle's version on the other
   slot (updated), or with the old slot and ``rolled_back`` (its health check
   failed and boot counting brought the old slot back by itself);
5. maintenance off.

The roll stops at the first host that does not come back updated: that host is
taken out of maintenance (it runs its previous, known-good slot) and the hosts
after it are left alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from peer.osimage import bundle

Log = Callable[[str], None]
POLL_S = 2.0  # between looks at a draining or rebooting host


@dataclass
class HostResult:
    node: str
    outcome: str  # updated, skipped, rolled_back, failed
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Rollout:
    version: str
    hosts: list[HostResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(h.outcome in ("updated", "skipped") for h in self.hosts)


def peek_version(path: Path) -> str:
    """The version a bundle's manifest names (unverified: each host verifies)."""
    import tarfile

    with tarfile.open(path, "r|") as tar:
        for info in tar:
            fh = tar.extractfile(info) if info.name == "manifest.json" else None
            if fh is not None:
                return bundle.parse_manifest(fh.read()).version
            break
    raise bundle.BundleError("no manifest.json at the start of the bundle")


def order_hosts(nodes: list[dict[str, Any]], leader: str | None) -> list[str]:
    """Hosts in the order to update them: by name, the leader last; removed hosts
    are left out."""
    ids = sorted(
        str(n["id"]) for n in nodes if n.get("state") != "removed" and n.get("id") is not None
    )
    return [i for i in ids if i != leader] + [i for i in ids if i == leader]


def outcome(status: dict[str, Any], version: str, before_slot: str) -> str | None:
    """``updated``, ``rolled_back``, or None while the host is not back yet."""
    if not status.get("os"):
        return None
    if status.get("version") == version and status.get("slot") != before_slot:
        return "updated"
    back = status.get("rolled_back")
    if status.get("slot") == before_slot and isinstance(back, dict) and back.get("slot"):
        return "rolled_back"
    return None


async def run(
    client: Any,
    path: Path,
    *,
    drain_s: float = 600,
    boot_s: float = 900,
    log: Log = print,
) -> Rollout:
    version = peek_version(path)
    result = Rollout(version)
    cluster = await client.get("/cluster")
    nodes = await client.get_all("/nodes")
    for node in order_hosts(nodes, cluster.get("leader")):
        t0 = time.monotonic()
        try:
            res = await _one(client, node, path, version, drain_s, boot_s, log)
        except Exception as e:  # the API said no, or the host did not come back
            res = HostResult(node, "failed", str(getattr(e, "message", e)))
        res.seconds = round(time.monotonic() - t0, 1)
        result.hosts.append(res)
        log(f"{node}: {res.outcome} {res.detail}".rstrip())
        if res.outcome not in ("updated", "skipped"):
            log("the roll stops here; the hosts after it keep their version")
            break
    return result


async def _one(
    client: Any, node: str, path: Path, version: str, drain_s: float, boot_s: float, log: Log
) -> HostResult:
    before = await client.get("/host/os", node=node)
    if not before.get("os"):
        return HostResult(node, "failed", "not a Quantix-OS host")
    if before.get("version") == version:
        return HostResult(node, "skipped", "already on " + version)
    slot = str(before["slot"])
    await client.patch(f"/nodes/{node}", {"maintenance": True})
    try:
        log(f"{node}: maintenance on, evacuating")
        await _until(lambda: _drained(client, node), drain_s, f"{node} drained")
        log(f"{node}: installing {version}")
        with open(path, "rb") as f:
            await client.request(
                "POST",
                "/host/os/update",
                query={"node": node},
                data=f,
                headers={"Content-Type": "application/octet-stream"},
                timeout=aiohttp.ClientTimeout(total=None, sock_read=600),
            )
        got = await _until(
            lambda: _back(client, node, version, slot), boot_s, f"{node} back after its reboot"
        )
        detail = "" if got == "updated" else f"slot {slot.upper()} again: its update failed"
        return HostResult(node, got, detail)
    finally:
        await client.patch(f"/nodes/{node}", {"maintenance": False})


async def _drained(client: Any, node: str) -> bool:
    vms = await client.get_all("/vms", node=node)
    return not vms


async def _back(client: Any, node: str, version: str, slot: str) -> str | None:
    try:
        return outcome(await client.get("/host/os", node=node), version, slot)
    except Exception:  # rebooting: its peer does not answer
        return None


async def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(POLL_S)
