"""Wiring for the daemon: open the host's driver, run the reconciler, expose both.

``start_reconciler(ctx, loops)`` puts into ``ctx.services``:

- ``"driver"``: the ``hypervisor.contract.Driver`` (what the API calls for the
  VMs this peer hosts: snapshots, hot-plug, serial log, console socket);
- ``"reconciler"``: the ``Reconciler``;
- ``"agents"``: the ``peer.agent.manager.AgentManager`` (the guest agents);
- ``"fence_vms"``: an async function that force-stops the HA VMs of this host
  (called when the peer fences itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from hypervisor.errors import HypervisorError
from hypervisor.libvirt_driver import LibvirtDriver
from peer.agent.manager import AgentManager
from peer.context import PeerContext
from peer.reconciler.reconciler import Reconciler
from raft.errors import StoreError
from raft.store import Store, put

# States of a guest that a fence ended (every domain of the host is stopped).
STOPPED_BY_FENCE = frozenset({"running", "paused", "shutting_down"})

log = logging.getLogger(__name__)


class _Stopper:
    """What the daemon stops on shutdown: the reconciler, then the connection
    (domains keep running; the next start adopts them)."""

    def __init__(self, rec: Reconciler, driver: LibvirtDriver, agents: AgentManager) -> None:
        self.rec = rec
        self.driver = driver
        self.agents = agents

    async def stop(self) -> None:
        await self.agents.stop()
        await self.rec.stop()
        # The storage libvirtd (embedded mode) stays: running guests use its pools.
        await asyncio.to_thread(self.driver.close, False)


async def start_reconciler(ctx: PeerContext, loops: list[Any]) -> Reconciler | None:
    cfg = ctx.config
    data = cfg.data_dir / "data"
    try:
        vifs = None
        if cfg.data_interface:
            from hypervisor.vif import OvsVifs
            from peer.net.engine import ovn_paths

            vifs = OvsVifs(ovn_paths(ctx))
        driver = await asyncio.to_thread(
            LibvirtDriver, cfg.libvirt_uri, pools={"local": str(data / "local")}, vifs=vifs
        )
    except HypervisorError as e:
        log.error("no hypervisor (%s): VMs are not run on this host: %s", cfg.libvirt_uri, e)
        # Published in the node record: the scheduler then gives this host no VMs.
        ctx.conditions["cannot_run_vms"] = f"no hypervisor at {cfg.libvirt_uri}: {e}"
        recorder = ctx.services.get("node_recorder")
        if recorder is not None:
            recorder.wake()
        return None
    agents = AgentManager(ctx.store, driver, ctx.node_id)
    rec = Reconciler(
        ctx.store,
        driver,
        ctx.node_id,
        migration_address=ctx.address,
        fenced=fenced_flag(ctx),
        agents=agents,
        migration_guard=ctx.services.get("firewall"),
        pool_roots=cfg.roots,
    )
    await rec.start()
    await agents.start()
    ctx.services["agents"] = agents
    ctx.status_providers.append(agents.status)
    ctx.services["driver"] = driver
    ctx.services["reconciler"] = rec
    ctx.services["fence_vms"] = lambda: fence_ha_vms(ctx, rec, driver)
    ctx.status_providers.append(rec.status)
    ctx.status_providers.append(lambda: {"hypervisor": {"accel": driver.accel.to_dict()}})
    loops.append(_Stopper(rec, driver, agents))
    log.info("reconciler started (%s, %s)", cfg.libvirt_uri, driver.accel.reason)
    return rec


def fenced_flag(ctx: PeerContext) -> Callable[[], bool] | None:
    """The lease renewer's own fenced flag (``ctx.services["lease"]``), if it runs."""
    lease = ctx.services.get("lease")
    return None if lease is None else lambda: bool(lease.fenced)


async def report_fenced(store: Store, node_id: str) -> None:
    """After a fence, before anything starts again: this host's guests were all
    stopped, so their statuses say so (one commit), not "running" until the
    reconciler has started each again."""
    ops = [
        put(
            "vm_status",
            r.key,
            {
                **r.value,
                "state": "stopped",
                "reason": "fenced",
                "power_state": "stopped",
                "updated_at": time.time(),
            },
            expect=r.version,
        )
        for r in store.scan("vm_status")
        if r.value.get("node") == node_id and r.value.get("state") in STOPPED_BY_FENCE
    ]
    if ops:
        with contextlib.suppress(StoreError):  # the reconciler reports in any case
            await store.commit(ops)


async def fence_ha_vms(ctx: PeerContext, rec: Reconciler, driver: LibvirtDriver) -> None:
    """Self-fencing: stop reconciling (nothing gets restarted) and pull the plug
    on every guest of this host (docs/ha.md: a fenced host's replica may be
    stale, so not only the HA-enabled ones), so the leader may start them elsewhere."""
    await rec.stop()
    for info in await asyncio.to_thread(driver.list_domains):
        if info.state in ("stopped", "crashed"):
            continue
        with contextlib.suppress(HypervisorError):
            await asyncio.to_thread(driver.stop, info.vm_id)
            log.warning("fenced: VM %s forced off", info.vm_id)
