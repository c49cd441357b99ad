"""This host's record in the ``nodes`` table, kept current.

The record carries what the scheduler and the UI need: addresses, ports, the
Raft address (the host's Raft identity), resources from host telemetry,
labels from node.yaml and the host's conditions (``conditions``, {type:
message}: what the daemon found wrong, ``PeerContext.conditions``, plus
``disk_full`` when the data disk is nearly full); a blocking condition keeps
new VMs away (peer.scheduler.model.BLOCKING_CONDITIONS). It is rewritten when
something changed (resources are rounded so that load noise does not cause a
write every pass). The recorder
also saves the current voter list to ``cluster.json`` so a restart knows whom to
contact, and, on the leader, keeps the ``discovered`` table of factory-state
hosts seen by mDNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from hypervisor.telemetry import host_resources
from peer import __version__
from peer.context import PeerContext
from peer.identity import Membership
from peer.logs import kv
from peer.tls import certificate_info
from raft.errors import StoreError
from raft.store import delete, put

log = logging.getLogger("peer.node")

INTERVAL = 10.0
# The data disk counts as full below this much free space: 2 % of it, at most
# 256 MiB (a VM's disks, the Raft journal and snapshots all live there).
DISK_FULL_FRACTION = 0.02
DISK_FULL_CAP = 256 << 20


def disk_condition(path: Path) -> str | None:
    """``disk_full``'s message when ``path``'s file system is nearly full, else None."""
    try:
        usage = shutil.disk_usage(path)
    except OSError as e:
        return f"cannot read the data disk's usage: {e}"
    return disk_full_message(usage.total, usage.free)


def disk_full_message(total: int, free: int) -> str | None:
    """Pure: the condition's message for a disk of ``total`` bytes with ``free`` left."""
    if total <= 0 or free >= min(DISK_FULL_CAP, total * DISK_FULL_FRACTION):
        return None
    return f"the data disk is full: {free >> 20} MiB free of {total >> 20} MiB"


# The discovered table: at most this many factory hosts, this many new per pass.
MAX_DISCOVERED = 64
ADD_PER_PASS = 4


def tls_fields(data_dir: Path) -> dict[str, Any] | None:
    """This host's API certificate as published in its node record (None when the
    peer serves none, e.g. in tests); read on every pass, so a replaced
    certificate shows up within one interval."""
    path = data_dir / "tls" / "server.crt"
    try:
        return certificate_info(path)
    except (OSError, ValueError):
        return None


def _coarse(res: dict[str, Any]) -> dict[str, Any]:
    """The resource fields that matter for placement and the UI, rounded so that
    load noise does not cause a write every pass."""
    return {
        "cpus": res.get("cpus"),
        "cpu_percent": int(float(res.get("cpu_percent") or 0.0) // 5 * 5),
        "memory_mib": res.get("memory_mib"),
        "memory_free_mib": int((res.get("memory_available_mib") or 0) // 256 * 256),
        "kvm": res.get("kvm"),
    }


class NodeRecorder:
    def __init__(self, ctx: PeerContext, membership: Membership) -> None:
        self.ctx = ctx
        self.membership = membership
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Write the record now (a condition changed), not at the next interval."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                await self.step()
            except StoreError as e:
                log.info("node record not written", extra=kv(reason=e.message))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), INTERVAL)

    async def step(self) -> None:
        store = self.ctx.store
        cfg = self.ctx.config
        res = await asyncio.to_thread(host_resources)
        disk = await asyncio.to_thread(disk_condition, cfg.data_dir)
        if disk is None and store.status().get("disk_reserve_in_use"):
            # The journal lives on the space it held back (raft.reserve): full.
            disk = "the data disk is full: the raft journal is using its reserve"
        tls = await asyncio.to_thread(tls_fields, cfg.data_dir)
        rec = store.get("nodes", self.ctx.node_id)
        old: dict[str, Any] = dict(rec.value) if rec else {"state": "active", "voter": False}
        want = dict(old)
        want.update(
            hostname=self.ctx.hostname,
            address=self.ctx.address,
            api_port=cfg.api_port,
            raft_port=cfg.raft_port,
            raft_addr=f"{self.ctx.address}:{cfg.raft_port}",
            version_string=__version__,
            resources=dict(old.get("resources") or {}, **_coarse(res)),
            labels=dict(cfg.labels) or old.get("labels") or {},
            # OVS/OVN runs here (data_interface set): VMs with overlay/VLAN NICs may.
            networking=bool(cfg.data_interface),
            conditions=dict(self.ctx.conditions, **({"disk_full": disk} if disk else {})),
        )
        if tls is not None:
            want["tls"] = tls
        want.setdefault("joined_at", time.time())
        if want != old:
            await store.commit(
                [put("nodes", self.ctx.node_id, want, rec.version if rec else "absent")]
            )
        voters = getattr(store, "voters", None)
        if voters is not None:
            current = sorted(voters())
            saved = self.membership.load()
            mine = want["raft_addr"] in current
            if current and (saved.get("voters") != current or saved.get("voter") != mine):
                self.membership.save(voters=current, voter=mine)
        if store.is_leader:
            await self._record_discovered()

    async def _record_discovered(self) -> None:
        disc = self.ctx.services.get("discovery")
        if disc is None:
            return
        store = self.ctx.store
        factory = {h.node_id: h for h in disc.hosts() if h.info.is_factory}
        ops = []
        # mDNS is unauthenticated: what it claims reaches the replicated state only
        # a few hosts per pass and up to a cap, so a flood of fake announcements
        # cannot fill it (the oldest stay listed; the rest wait for room).
        room = min(MAX_DISCOVERED - store.count("discovered"), ADD_PER_PASS)
        for nid, h in sorted(factory.items(), key=lambda kv: kv[1].first_seen):
            if room <= 0:
                break
            if store.get("discovered", nid) is None and store.get("nodes", nid) is None:
                room -= 1
                ops.append(
                    put(
                        "discovered",
                        nid,
                        {
                            "hostname": h.info.hostname,
                            "address": h.address,
                            "api_port": h.info.api_port,
                            "cert_fp": h.info.cert_fp or None,
                            "seen_at": time.time(),
                        },
                    )
                )
        for r in store.scan("discovered"):
            if r.key not in factory or store.get("nodes", r.key) is not None:
                ops.append(delete("discovered", r.key))
        if ops:
            await store.commit(ops)
