"""The network engine on every peer with a data interface (``data_interface``
in node.yaml): it supervises this host's Open vSwitch and ovn-controller, puts
the uplink into ``br-phy``, publishes the host's tunnel address, runs OVN's
central databases when the leader picked this host, and there projects the
cluster state into the northbound database (peer.net.project, peer.net.nbsync).
On the leader it also picks the central host (peer.net.central).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from hypervisor import links, ovnhost
from hypervisor.errors import HypervisorError
from hypervisor.ovnhost import OvnPaths
from hypervisor.ovsdb import OvsdbClient, pymap
from peer.context import PeerContext
from peer.logs import kv
from peer.net import central, nbsync, project, sbguard
from peer.net.supervise import Supervised
from raft.errors import StoreError
from raft.store import put

log = logging.getLogger("peer.net")

TICK = 1.0
# The projection is compared in full with the database this often even when the
# cluster state did not change (a database edited by hand is put right); a cheap
# look at the switches' keys more often catches a wiped one sooner.
RESYNC_S = 60.0
CHECK_S = 5.0
PROJECTED_TABLES = ("networks", "vms", "secgroups")


def ovn_paths(ctx: PeerContext) -> OvnPaths:
    return OvnPaths(ctx.config.data_dir / "ovn")


class NetEngine:
    def __init__(self, ctx: PeerContext) -> None:
        self.ctx = ctx
        self.node = ctx.node_id
        self.uplink = ctx.config.data_interface
        self.paths = ovn_paths(ctx)
        self.local = [Supervised(d) for d in ovnhost.local_daemons(self.paths)]
        self.central: list[Supervised] = []
        self.central_epoch: int | None = None
        self.encap_ip: str | None = None
        self.sb_remote: str | None = None
        self._switch_ready = False
        self._dirty = True
        self._synced_at = 0.0
        self._checked_at = 0.0
        self._switch_keys: set[str] = set()
        self._guarded: frozenset[str] | None = None
        self._stop = asyncio.Event()
        self.last_sync: dict[str, Any] = {}

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {
            "network": {
                "uplink": self.uplink,
                "encap_ip": self.encap_ip,
                "sb_remote": self.sb_remote,
                "central": self.central_epoch is not None,
                "daemons": {s.daemon.name: s.pid for s in self.local + self.central},
                "last_sync": self.last_sync,
            }
        }

    async def run(self) -> None:
        await asyncio.to_thread(ovnhost.prepare_dirs, self.paths)
        # A change to what is projected wakes the engine at once (a rule enforced,
        # a port up without waiting for the tick); lease renewals do not.
        watch = self.ctx.store.watch([*PROJECTED_TABLES, "ovn"])
        try:
            while not self._stop.is_set():
                try:
                    await self.step()
                except (HypervisorError, StoreError, sbguard.GuardError) as e:
                    log.warning("network engine: %s", e, extra=kv(node=self.node))
                change = await watch.next(TICK)
                while change is not None:
                    if change.table in PROJECTED_TABLES:
                        self._dirty = True
                    change = await watch.next(0)
        finally:
            watch.close()
            for s in [*self.central, *reversed(self.local)]:
                await asyncio.to_thread(s.stop)

    async def step(self) -> None:
        now = time.monotonic()
        # ovn-controller starts last: it reads who it is from the switch database.
        for s in self.local:
            if s.daemon.name == "ovn-controller" and not self._switch_ready:
                await asyncio.to_thread(self._setup_switch)
            if s.ensure(now) and s.daemon.name == "ovsdb-server":
                await self._wait_socket()
                self._switch_ready = False
            s.healthy_for(30, now)
        await self._publish_chassis()
        if self.ctx.store.is_leader:
            await self._place_central()
        await self._follow_central()

    async def _wait_socket(self) -> None:
        sock = self.paths.db_sock
        for _ in range(100):
            if sock.exists():
                return
            await asyncio.sleep(0.05)

    def _setup_switch(self) -> None:
        ovnhost.setup_switch(
            self.paths,
            system_id=self.node,
            hostname=self.ctx.hostname,
            sb_remote=self.sb_remote,
            encap_ip=self._encap_ip(),
            uplink=self.uplink,
        )
        if self.uplink:
            links.checksum_offload_off(self.uplink)
            links.move_addresses(self.uplink, ovnhost.PHYSICAL_BRIDGE)
            self.encap_ip = self._encap_ip()
            ovnhost.vsctl(self.paths, "set", "open_vswitch", ".",
                          f"external_ids:ovn-encap-ip={self.encap_ip}")  # fmt: skip
        self._switch_ready = True

    def _encap_ip(self) -> str:
        """The tunnel address: the uplink's (before it moved) or br-phy's (after)."""
        for dev in (ovnhost.PHYSICAL_BRIDGE, self.uplink):
            if dev and links.exists(dev):
                addrs = links.addresses(dev)
                if addrs:
                    return addrs[0].split("/")[0]
        return self.ctx.address

    async def _publish_chassis(self) -> None:
        if self.encap_ip is None:
            return
        key = central.chassis_key(self.node)
        rec = self.ctx.store.get("ovn", key)
        want = {"node": self.node, "encap_ip": self.encap_ip, "uplink": self.uplink}
        if rec is None or {k: rec.value.get(k) for k in want} != want:
            await self.ctx.store.commit([put("ovn", key, want)])

    async def _place_central(self) -> None:
        store = self.ctx.store
        chassis = {
            r.key.removeprefix(central.CHASSIS_PREFIX): r.value
            for r in store.scan("ovn", central.CHASSIS_PREFIX)
        }
        leases = {r.key: r.value for r in store.scan("leases")}
        # Lease timestamps are the leader's committed clock: compare with the same.
        live = central.alive(leases, time.time(), 2 * self.ctx.config.fence_after)
        cur = store.get("ovn", central.CENTRAL)
        choice = central.pick(cur.value if cur else None, chassis, live)
        if choice is None or (cur is not None and cur.value.get("node") == choice):
            return
        epoch = int(cur.value.get("epoch", 0)) + 1 if cur is not None else 1
        value = central.record(choice, chassis[choice], epoch, time.time())
        expect = cur.version if cur is not None else "absent"
        await store.commit([put("ovn", central.CENTRAL, value, expect=expect)])
        log.info("OVN central placed", extra=kv(node=choice, epoch=epoch))

    async def _follow_central(self) -> None:
        rec = self.ctx.store.get("ovn", central.CENTRAL)
        value = rec.value if rec is not None else {}
        remote = value.get("sb_remote")
        if remote != self.sb_remote and self._switch_ready:
            self.sb_remote = remote
            await asyncio.to_thread(self._setup_switch)
        mine = value.get("node") == self.node
        epoch = int(value.get("epoch", 0))
        if mine and self.central_epoch != epoch:
            await self._start_central(str(value["address"]), epoch)
        elif not mine and self.central:
            log.info("OVN central moved away: stopping the databases here")
            for s in self.central:
                await asyncio.to_thread(s.stop)
            self.central, self.central_epoch = [], None
            if self._guarded is not None:
                await sbguard.apply(sbguard.remove_script())
                self._guarded = None
        if self.central:
            await self._guard()
            now = time.monotonic()
            for s in self.central:
                if s.ensure(now):
                    self._dirty = True  # a fresh database: project everything again
            await self._project()

    async def _guard(self) -> None:
        """With ``firewall: true``: only the hosts' tunnel addresses reach the
        southbound database (peer/net/sbguard.py)."""
        if not self.ctx.config.firewall:
            return
        allowed = frozenset(
            str(r.value.get("encap_ip"))
            for r in self.ctx.store.scan("ovn", central.CHASSIS_PREFIX)
            if r.value.get("encap_ip")
        )
        if allowed != self._guarded:
            await sbguard.apply(sbguard.script(ovnhost.SB_PORT, allowed))
            self._guarded = allowed
            log.info("southbound database open to %d hosts", len(allowed))

    async def _start_central(self, address: str, epoch: int) -> None:
        for s in self.central:
            await asyncio.to_thread(s.stop)
        await asyncio.to_thread(ovnhost.fresh_central, self.paths)
        self.central = [Supervised(d) for d in ovnhost.central_daemons(self.paths, address)]
        self.central_epoch = epoch
        self._dirty = True
        log.info("running OVN central databases", extra=kv(epoch=epoch, address=address))

    async def _project(self) -> None:
        store = self.ctx.store
        rev = store.revision
        since = time.monotonic() - self._synced_at
        if not self._dirty and since < RESYNC_S and time.monotonic() - self._checked_at >= CHECK_S:
            if await asyncio.to_thread(self._switches_missing):
                log.warning("the northbound database lost switches: projecting it again")
                self._dirty = True
            else:
                self._checked_at = time.monotonic()
        if not self._dirty and since < RESYNC_S:
            return
        self._dirty = False
        tables = {t: {r.key: r.value for r in store.scan(t)} for t in PROJECTED_TABLES}
        rows = project.desired(tables)
        t0 = time.monotonic()
        try:
            written = await asyncio.to_thread(self._sync, rows)
        except HypervisorError:
            self._dirty = True
            raise
        self._synced_at = time.monotonic()
        self.last_sync = {
            "revision": rev,
            "rows": len(rows),
            "ops": written,
            "seconds": round(time.monotonic() - t0, 3),
        }
        if written:
            log.info("northbound database updated", extra=kv(**self.last_sync))

    def _sync(self, rows: dict[tuple[str, str], project.Row]) -> int:
        self._switch_keys = {k for (t, k) in rows if t == "Logical_Switch"}
        with OvsdbClient(f"unix:{self.paths.nb_sock}", timeout=60) as nb:
            return nbsync.sync(nb, rows)

    def _switches_missing(self) -> bool:
        with OvsdbClient(f"unix:{self.paths.nb_sock}", timeout=10) as nb:
            rows = nb.select(nbsync.DB, "Logical_Switch", ["external_ids"])
        have = {str(pymap(r.get("external_ids")).get(nbsync.KEY)) for r in rows}
        return not self._switch_keys <= have
