"""``quantix peer``: the daemon every host runs.

Start-up order: identity (node id, TLS certificate) -> mDNS announcements (the
settle window of formation starts there) -> the API server (health, status, join
and adopt answer before the host is in a cluster) -> either the saved cluster
membership (restart) or cluster formation (peer/formation.py) -> once a member:
the Raft store, then the loops (lease renewal, HA/scheduler, voter management,
node record, reconciler).

SIGTERM/SIGINT: stop the loops, say goodbye on mDNS, close the API, stop the
Raft node (its journal is synced), exit 0. A restart comes back into the same
cluster from ``<data_dir>/cluster.json`` and the Raft journal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from aiohttp import web

from discovery.adopt import AdoptPayload
from discovery.model import Announcement
from discovery.service import Discovery
from peer import __version__
from peer.config import ConfigError, NodeConfig, load_config
from peer.context import PeerContext
from peer.firewall import FirewallError
from peer.identity import (
    JOIN_CODE_FILE,
    Membership,
    ensure_node_id,
    first_secret,
    pick_address,
    system_hostname,
    write_file,
)
from peer.logs import kv, setup_logging
from peer.pending import PendingStore
from peer.tls import ensure_certificate, server_context
from raft.errors import Conflict, StoreError
from raft.store import put

# Only what mDNS needs is imported before the host announces itself (the bootstrap
# rule's settle window starts then): the API's modules (host management pulls in
# pyroute2), the Raft node, formation and the member loops are imported where
# they are first used, ~0.2 s later on an idle machine, more on a busy one.
if TYPE_CHECKING:
    from discovery.bootstrap import Merge
    from peer.formation import Formation
    from raft.node import RaftStore

log = logging.getLogger("peer")

INITIAL_PASSWORD_FILE = "initial-admin-password"  # noqa: S105 (a file name, not a secret)
# s: one barrier attempt while catching up; between two, a joiner checks that the
# instance it joined still exists (it may have dissolved into another).
CATCH_UP_TRY = 2.0
CATCH_UP_MAX = 16.0
PAIRING_CODE_FILE = "pairing-code"


class Peer:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.membership = Membership(self.data_dir)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loops: list[Any] = []
        self.runner: web.AppRunner | None = None
        self.discovery: Discovery | None = None
        self.store: RaftStore | None = None
        self.formation: Formation | None = None
        self.watchdog: Any = None
        # (why, keep the old state) once this host leaves its instance to join
        # another (peer/heal.py); main() then starts the process again.
        self.leaving: tuple[Merge, bool] | None = None
        self.exit_code = 0
        # Set once this host left its cluster for factory state (peer/leave.py).
        self.to_factory = False

    # -- start-up --------------------------------------------------------------
    async def run(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        node_id = ensure_node_id(self.data_dir)
        hostname = self.config.hostname or system_hostname()
        address = pick_address(self.config.mgmt_address, self.config.mgmt_interface)
        cert, key = ensure_certificate(self.data_dir / "tls", hostname, address)
        self.cert_fp = _der_fp(cert)
        saved = self.membership.load()
        cluster_name = saved.get("cluster_name") or self.config.cluster_name
        secret = self.membership.secret() or self.config.cluster_secret
        if saved.get("factory"):
            # It left its cluster (peer/leave.py): node.yaml's cluster is not
            # followed again; it waits to be adopted or joined.
            cluster_name = saved.get("cluster_name")
            secret = self.membership.secret()
            self.config = dataclasses.replace(
                self.config, cluster_name=cluster_name, cluster_secret=secret
            )
        elif cluster_name and (self.config.cluster_secret or not secret):
            secret, generated = first_secret(self.membership, self.config.cluster_secret)
            if generated:
                # Shown once, on this host's terminal (never in the log file).
                print(
                    f"\nNo secret for cluster {cluster_name!r} in node.yaml: made a join code.\n"
                    f"  join code: {secret}\n"
                    "  Other hosts join with it as cluster.secret in their node.yaml\n"
                    f"  (also in {self.data_dir / JOIN_CODE_FILE}, readable by root only)\n",
                    file=sys.stdout,
                    flush=True,
                )
        role = "factory" if cluster_name is None else "joining"
        self.ctx = PeerContext(
            config=self.config,
            store=PendingStore(node_id, role),
            node_id=node_id,
            hostname=hostname,
            address=address,
        )
        self.ctx.status_providers.append(self._status)
        log.info(
            "starting",
            extra=kv(node=node_id, host=hostname, address=address, cluster=cluster_name or "-"),
        )
        # mDNS before the API: the settle window of formation runs from the moment
        # this host announces itself, so the API's set-up (imports, TLS, sockets)
        # overlaps it instead of delaying it. Nobody calls a "joining" or "factory"
        # host's API within the few hundred ms the API takes to come up.
        await self._start_discovery(cluster_name, role, saved.get("cluster_id", ""))
        if not (cluster_name and secret):
            # Before the API: a factory host answers adoption from its first request.
            await self._await_adoption()
        await self._serve_api(cert, key)
        self._notify_systemd()
        if saved.get("joined") and cluster_name and secret:
            await self.become_member(
                cluster_name,
                saved["cluster_id"],
                secret,
                voters=list(saved.get("voters") or []),
                voter=bool(saved.get("voter")),
                bootstrap=False,
            )
        elif cluster_name and secret:
            self._start_formation(cluster_name, secret)
        await self._stop.wait()
        await self.shutdown()
        if self.leaving is not None:
            self._set_aside_membership(keep=self.leaving[1])
        if self.to_factory:
            self._forget_cluster()
        return self.exit_code

    def _notify_systemd(self) -> None:
        """Quantix-OS runs the peer as a ``Type=notify`` unit with a watchdog."""
        from peer import sdnotify

        sdnotify.notify("READY=1")
        interval = sdnotify.watchdog_interval()
        if interval is not None:
            self._spawn(sdnotify.ping_watchdog(interval))

    async def _await_adoption(self) -> None:
        """Factory state: show a pairing code (console, log, a 0600 file) and
        accept adoption only from whoever proves it (peer/pairing.py)."""
        from discovery.pairing import PairingBook, pairing_key
        from peer.pairing import Pairing

        code = self._pairing_code()
        key = await asyncio.to_thread(pairing_key, code, self.ctx.node_id)
        book = PairingBook(self.ctx.node_id, self.cert_fp, key)
        self.ctx.services["pairing"] = Pairing(code, book, self.accept_adoption)
        # The console's own join (peer/hostmgmt, over the local socket only).
        self.ctx.services["accept_adoption"] = self.accept_adoption
        # The code is for the person at this host: on its console and in its
        # log (the DCUI shows it too); it only lets someone adopt this host.
        log.info(
            "factory state: waiting to be adopted",
            extra=kv(node=self.ctx.node_id, pairing_code=code, certificate=self.cert_fp),
        )
        print(
            f"\nQuantix host {self.ctx.hostname} ({self.ctx.node_id}) is waiting to be adopted.\n"
            f"  pairing code: {code}\n"
            f"  certificate:  {self.cert_fp}\n",
            file=sys.stdout,
            flush=True,
        )

    def _pairing_code(self) -> str:
        """This factory host's code, kept (0600) so a restart shows the same one."""
        from discovery.errors import PairingError
        from discovery.pairing import new_pairing_code, normalize_code

        path = self.data_dir / PAIRING_CODE_FILE
        try:
            code = path.read_text().strip()
            normalize_code(code)
            return code
        except (OSError, PairingError):
            code = new_pairing_code()
            write_file(path, code + "\n", 0o600)
            return code

    async def _serve_api(self, cert: Path, key: Path) -> None:
        from peer.api.app import build_app
        from peer.hostmgmt import host_routes
        from peer.join import routes as join_routes
        from peer.osimage.routes import routes as os_routes
        from peer.pairing import routes as pairing_routes
        from peer.vmhost import routes as vmhost_routes
        from peer.webui_static import add_webui

        app = build_app(
            self.ctx,
            extra_routes=[
                join_routes,
                pairing_routes,
                vmhost_routes,
                os_routes,
                *host_routes(self.ctx),
            ],
        )
        add_webui(app)  # the web UI at / (webui/dist), after the API's routes
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(
            self.runner,
            self.ctx.address,
            self.config.api_port,
            ssl_context=server_context(cert, key),
            reuse_address=True,
        )
        await site.start()
        sock_path = self.config.local_socket or (self.data_dir / "peer.sock")
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()
        old_umask = os.umask(0o177)  # the socket is created 0600: root-only by construction
        try:
            await web.UnixSite(self.runner, str(sock_path)).start()
        finally:
            os.umask(old_umask)
        log.info(
            "api listening",
            extra=kv(url=f"https://{self.ctx.address}:{self.config.api_port}/", socket=sock_path),
        )

    async def _start_discovery(self, cluster_name: str | None, role: str, cluster_id: str) -> None:
        me = Announcement(
            node_id=self.ctx.node_id,
            cluster_name=cluster_name or "",
            api_port=self.config.api_port,
            raft_port=self.config.raft_port,
            version=__version__,
            role=role,  # type: ignore[arg-type]
            cluster_id=cluster_id,
            hostname=self.ctx.hostname[:63],
            cert_fp=self.cert_fp,
        )
        address = None if self.config.mgmt_interface else self.ctx.address
        self.discovery = Discovery(me, address, interface=self.config.mgmt_interface)
        await self.discovery.async_start()
        self.ctx.services["discovery"] = self.discovery

    def _start_formation(
        self, cluster_name: str, secret: str, pins: dict[str, str] | None = None
    ) -> None:
        from peer.formation import Formation

        assert self.discovery is not None
        self.formation = Formation(self, cluster_name, secret, pins)
        self._spawn(self.formation.run())

    # -- membership ------------------------------------------------------------
    async def become_member(
        self,
        cluster_name: str,
        cluster_id: str,
        secret: str,
        *,
        voters: list[str],
        voter: bool,
        bootstrap: bool,
    ) -> None:
        """Start the Raft node and everything that needs one."""
        from discovery.handshake import derive_key
        from peer.join import JoinResponder
        from raft.node import RaftStore

        raft_addr = f"{self.ctx.address}:{self.config.raft_port}"
        partners = [v for v in voters if v != raft_addr]
        if self.config.firewall:
            await self._install_firewall(voters)
        store = RaftStore(
            raft_addr,
            partners,
            self.data_dir / "raft",
            secret,
            voter=voter or bootstrap,
            bind_addr=raft_addr,
            node_id=self.ctx.node_id,
        )
        await store.start()
        self.store = store
        # A first join (not a restart into a saved cluster) may give up on an
        # instance that dissolves before this replica has caught up with it.
        fresh = not self.membership.load().get("joined")
        # Saved first: from here on a restart comes back into this cluster.
        self.membership.save(
            joined=True,
            cluster_name=cluster_name,
            cluster_id=cluster_id,
            voters=voters or [raft_addr],
            voter=voter or bootstrap,
            catching_up=fresh and not bootstrap,
        )
        self.membership.save_secret(secret)
        if not bootstrap and not await self._caught_up(store, cluster_id):
            return
        self.membership.save(catching_up=False)
        self.ctx.store = store
        if bootstrap:
            await self._found_cluster(cluster_name, cluster_id, raft_addr)
        from peer.heal import is_young

        self.ctx.services.pop("pairing", None)
        self.ctx.services.pop("accept_adoption", None)
        # The join key's slow KDF once, off the loop: hellos then cost HMACs only.
        if self.formation is not None:
            await self.formation.key_ready()
        await asyncio.to_thread(derive_key, secret, cluster_name)
        self.ctx.services["join"] = JoinResponder(
            cluster_name, cluster_id, self.ctx.node_id, secret, self.cert_fp
        )
        self.ctx.services["adopt"] = self.adopt
        self.ctx.services["remove_node"] = self.remove_node
        self._cluster_name, self._cluster_id, self._secret = cluster_name, cluster_id, secret
        if self.discovery is not None:
            await self.discovery.async_update(
                cluster_name=cluster_name,
                cluster_id=cluster_id,
                role="member",
                young=bootstrap or is_young(store),
            )
        self._start_loops()
        log.info("member of the cluster", extra=kv(cluster=cluster_name, raft=raft_addr))

    async def _install_firewall(self, voters: list[str]) -> None:
        """Before Raft listens: only the known members reach its port (the
        guard keeps the set in step once this host has the nodes table)."""
        from peer.firewall import Firewall

        if "firewall" not in self.ctx.services:
            self.ctx.services["firewall"] = Firewall(
                self.config.raft_port, self.config.migration_ports
            )
        members = {self.ctx.address} | {v.rsplit(":", 1)[0] for v in voters}
        try:
            await self.ctx.services["firewall"].install(members)
        except FirewallError as e:
            # Asked for and not possible: stop rather than run unguarded.
            log.error("cannot run: firewall is on in node.yaml but: %s", e)
            self.exit_code = 1
            self.request_stop()
            raise

    async def _caught_up(self, store: RaftStore, cluster_id: str) -> bool:
        """Wait until this replica has applied everything committed before now (a
        barrier through the log). Until then the API keeps answering from the
        PendingStore ("not finished joining"), so a host that just joined or
        restarted never serves an empty or stale state as if it were current.
        A joiner whose instance dissolved meanwhile (a young split healing, see
        peer/heal.py) would wait forever: it leaves and looks again instead."""
        from discovery.bootstrap import Merge, joined_instance_lost

        wait = CATCH_UP_TRY
        while not self._stop.is_set():
            try:
                await store.barrier(timeout=wait)
                return True
            except StoreError as e:
                log.info("catching up with the cluster", extra=kv(reason=e.message))
            disc = self.discovery
            lost = joined_instance_lost(disc.me, cluster_id, disc.hosts()) if disc else ""
            if lost and self.membership.load().get("catching_up"):
                await self.leave_for(Merge("move", None, "", lost), keep_state=False)
                return False
            # A leader busy with many joiners (32 hosts starting on 2 cores) may
            # take longer than one try: a fixed short timeout would never succeed.
            wait = min(wait * 2, CATCH_UP_MAX)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)
        return False

    async def _found_cluster(self, cluster_name: str, cluster_id: str, raft_addr: str) -> None:
        assert self.store is not None
        deadline = time.monotonic() + 30
        while not self.store.is_leader:
            if time.monotonic() > deadline:
                raise StoreError("the new single-node cluster elected no leader in 30 s")
            await asyncio.sleep(0.05)
        with contextlib.suppress(Conflict):
            await self.store.commit(
                [
                    put(
                        "meta",
                        "cluster",
                        {
                            "name": cluster_name,
                            "id": cluster_id,
                            "created_at": time.time(),
                            "bootstrap_node": self.ctx.node_id,
                        },
                        expect="absent",
                    )
                ]
            )
        from peer.auth.users import ensure_initial_admin

        password = await ensure_initial_admin(self.store)
        if password is not None:
            announce_first_admin(
                password,
                self.data_dir / INITIAL_PASSWORD_FILE,
                f"https://{self.ctx.address}:{self.config.api_port}/",
                cluster_name,
            )
        log.info("bootstrapped a new cluster", extra=kv(cluster=cluster_name, id=cluster_id))

    def _start_loops(self) -> None:
        assert self.store is not None
        from peer.ha.lease import LeaseRenewer
        from peer.ha.manager import HAManager
        from peer.ha.watchdog import Watchdog
        from peer.images import ImageImporter
        from peer.leave import Leaver
        from peer.membership import MembershipManager
        from peer.node_record import NodeRecorder

        cfg = self.config
        self.watchdog = Watchdog.from_config(cfg)
        self.watchdog.open()  # armed from here: the lease renewer feeds it
        renewer = LeaseRenewer(
            self.store,
            self.ctx.node_id,
            heartbeat=cfg.heartbeat,
            fence_after=cfg.fence_after,
            on_fence=self._on_fence,
            on_unfence=self._on_unfence,
            watchdog=self.watchdog,
            # Fencing kills this host's guests' QEMU processes at once (all in
            # parallel), well within the leader's margin, before anything slower.
            plug=True,
        )
        ha = HAManager.from_context(self.ctx)
        members = MembershipManager(
            self.store, heartbeat=cfg.heartbeat, fence_after=cfg.fence_after
        )
        recorder = NodeRecorder(self.ctx, self.membership)
        leaver = Leaver(self.store, self.ctx.node_id, self.leave_to_factory)
        images = ImageImporter(self.ctx, lease_ttl=cfg.fence_after)
        self.ctx.services["ha"] = ha
        self.ctx.services["lease"] = renewer
        self.ctx.services["node_recorder"] = recorder
        loops: list[Any] = [renewer, ha, members, recorder, images, leaver]
        if self.discovery is not None:
            from peer.heal import SplitHealer

            healer = SplitHealer(self.store, self.discovery, self.ctx.node_id, self.leave_for)
            self.ctx.services["heal"] = healer
            loops.append(healer)
        if cfg.data_interface:
            from peer.net.engine import NetEngine

            net = NetEngine(self.ctx)
            self.ctx.services["net"] = net
            self.ctx.status_providers.append(net.status)
            loops.append(net)
        firewall = self.ctx.services.get("firewall")
        if firewall is not None:
            from peer.raftguard import RaftGuard

            loops.append(RaftGuard(self.store, firewall, self.ctx.address))
        for loop in loops:
            self._loops.append(loop)
            self._spawn(loop.run())
        self._start_reconciler()
        self._spawn(self._announce_role())
        from peer.events.recorder import StateEventRecorder

        # State changes that are not API calls (VM state, placements, tasks) become events.
        self._spawn(StateEventRecorder(self.store, self.ctx.node_id).run(self._stop))

    async def _announce_role(self) -> None:
        """Announce ``leader`` on mDNS while this peer leads, so joiners go
        straight to it and browsers see who leads."""
        announced = "member"
        while not self._stop.is_set():
            want = "leader" if self.store is not None and self.store.is_leader else "member"
            if want != announced and self.discovery is not None:
                with contextlib.suppress(Exception):
                    await self.discovery.async_update(role=want)
                    announced = want
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.heartbeat)

    def _start_reconciler(self) -> None:
        """Run the VMs placed on this host, when a hypervisor driver is available."""
        try:
            from peer.reconciler.service import start_reconciler
        except ImportError as e:
            # Said loudly and published: a host that looks able to run VMs but
            # cannot would be given VMs that never start.
            log.error("cannot run VMs on this host: the hypervisor driver does not load: %s", e)
            self.set_condition("cannot_run_vms", f"the hypervisor driver does not load: {e}")
            return
        self._spawn(self._reconcile_when_current(start_reconciler))

    async def _reconcile_when_current(self, start: Any) -> None:
        """Start the reconciler only once this replica is known to be current (a
        barrier through the log): a host that comes back must judge its running
        domains by the placements the cluster has now, not by what it last saw,
        or it could keep a VM the leader has already restarted elsewhere."""
        assert self.store is not None
        while not self._stop.is_set():
            try:
                await self.store.barrier(timeout=5.0)
                break
            except StoreError as e:
                log.info("waiting to catch up before running VMs", extra=kv(reason=e.message))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)
        if not self._stop.is_set():
            await start(self.ctx, self._loops)

    def set_condition(self, kind: str, message: str | None) -> None:
        """Set (or, with None, clear) one of this host's node conditions and
        publish it now (peer.node_record)."""
        if message is None:
            self.ctx.conditions.pop(kind, None)
        else:
            self.ctx.conditions[kind] = message
        recorder = self.ctx.services.get("node_recorder")
        if recorder is not None:
            recorder.wake()

    async def _on_fence(self, *_: Any) -> None:
        log.error("fencing: could not renew the lease; stopping HA VMs on this host")
        fence = self.ctx.services.get("fence_vms")
        if fence is not None:
            await fence()

    async def _on_unfence(self, *_: Any) -> None:
        """The lease commits again: resume running this host's VMs with a fresh
        reconciler, whose first pass destroys copies that now belong elsewhere."""
        driver = self.ctx.services.get("driver")
        if driver is None or self.store is None:
            return
        from peer.reconciler.reconciler import Reconciler
        from peer.reconciler.service import fence_ha_vms, fenced_flag, report_fenced

        log.warning("lease renewed again after fencing: resuming the reconciler")
        await report_fenced(self.store, self.ctx.node_id)
        rec = Reconciler(
            self.store,
            driver,
            self.ctx.node_id,
            migration_address=self.ctx.address,
            fenced=fenced_flag(self.ctx),
            agents=self.ctx.services.get("agents"),
            migration_guard=self.ctx.services.get("firewall"),
            pool_roots=self.config.roots,
        )
        await rec.start()
        self.ctx.services["reconciler"] = rec
        self.ctx.services["fence_vms"] = lambda: fence_ha_vms(self.ctx, rec, driver)
        self._loops.insert(0, rec)

    # -- leaving this instance for another (peer/heal.py) -------------------------
    async def leave_for(self, why: Merge, keep_state: bool) -> None:
        """Stop, set this instance's state aside and start again as a joiner, which
        then joins ``why.target``'s instance. ``keep_state``: the instance was in
        use, so its Raft data is moved aside rather than deleted."""
        log.warning(
            "leaving this cluster instance to join another",
            extra=kv(into=why.into, keep_state=keep_state, why=why.reason),
        )
        self.leaving = (why, keep_state)
        self._stop.set()

    def _set_aside_membership(self, keep: bool) -> None:
        """After shutdown: forget the instance (keep the name, secret, node id, TLS)."""
        import shutil

        saved = self.membership.load()
        old = str(saved.get("cluster_id") or "unknown")
        raft_dir = self.data_dir / "raft"
        password = self.data_dir / INITIAL_PASSWORD_FILE
        if keep:
            aside = self.data_dir / f"left-{old}-{int(time.time())}"
            aside.mkdir(mode=0o700)
            for p in (raft_dir, password, self.membership.path):
                if p.exists():
                    shutil.copy2(p, aside / p.name) if p.is_file() else p.rename(aside / p.name)
            log.warning("the old instance's state is kept", extra=kv(path=aside))
        else:
            shutil.rmtree(raft_dir, ignore_errors=True)
        # That password belonged to the instance that is gone.
        password.unlink(missing_ok=True)
        name = saved.get("cluster_name") or self.config.cluster_name
        fresh = json.dumps({"cluster_name": name, "left": old}) + "\n"
        write_file(self.membership.path, fresh, 0o644)

    # -- leaving the cluster for factory state (peer/leave.py) --------------------
    async def leave_to_factory(self) -> None:
        """Stop; ``run`` then forgets the cluster and ``main`` starts us again."""
        self.to_factory = True
        self._stop.set()

    def _forget_cluster(self) -> None:
        """After shutdown: back to factory state. The node id and TLS certificate
        stay; the Raft data, the membership and the secret go. node.yaml's cluster
        (the first boot's auto-clustering) is not followed again: the host waits
        to be adopted or joined."""
        import shutil

        saved = self.membership.load()
        shutil.rmtree(self.data_dir / "raft", ignore_errors=True)
        (self.data_dir / INITIAL_PASSWORD_FILE).unlink(missing_ok=True)
        self.membership.secret_path.unlink(missing_ok=True)
        fresh = {"factory": True, "left": saved.get("cluster_id")}
        write_file(self.membership.path, json.dumps(fresh) + "\n", 0o644)
        log.warning("left the cluster: this host is in factory state again")

    # -- hooks for the API -------------------------------------------------------
    async def adopt(self, node_id: str, record: dict[str, Any], code: str) -> dict[str, Any]:
        """Adopt the factory host ``node_id`` with the pairing code read off its console."""
        from peer.pairing import adopt_with_code

        url = f"https://{record['address']}:{record.get('api_port', 8443)}"
        payload = AdoptPayload(
            cluster_name=self._cluster_name,
            cluster_id=self._cluster_id,
            sponsor=self.ctx.node_id,
            sponsor_fp=self.cert_fp,
            secret=self._secret,
        )
        fp = record.get("cert_fp")
        answer = await adopt_with_code(url, node_id, code, payload, fp or None)
        log.info("adoption sent", extra=kv(node=node_id, url=url))
        return answer

    async def accept_adoption(self, payload: AdoptPayload) -> None:
        if self.formation is not None or self.store is not None:
            raise ValueError("this host is already joining a cluster")
        self.ctx.services.pop("pairing", None)
        self.ctx.services.pop("accept_adoption", None)
        self.membership.save(
            cluster_name=payload.cluster_name, adopted_by=payload.sponsor, factory=False
        )
        self.membership.save_secret(payload.secret)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / PAIRING_CODE_FILE).unlink()
        if isinstance(self.ctx.store, PendingStore):
            self.ctx.store.role = "joining"
        if self.discovery is not None:
            await self.discovery.async_update(cluster_name=payload.cluster_name, role="joining")
        log.info("adopted", extra=kv(cluster=payload.cluster_name, sponsor=payload.sponsor))
        # The sponsor's certificate came with the pairing proof: pin it.
        self._start_formation(
            payload.cluster_name, payload.secret, {payload.sponsor: payload.sponsor_fp}
        )

    async def remove_node(self, node_id: str) -> None:
        assert self.store is not None
        rec = self.store.get("nodes", node_id)
        if rec is None:
            raise ValueError(f"no node {node_id}")
        addr = rec.value.get("raft_addr")
        if node_id == self.ctx.node_id:
            # Raft cannot let a node see its own removal commit: ask another host.
            raise ValueError("a host cannot remove itself: send this request to another host")
        if addr and addr in self.store.voters():
            await self.store.remove_voter(addr)
        await self.store.commit(
            [put("nodes", node_id, dict(rec.value, state="removed", voter=False), rec.version)]
        )

    # -- status and shutdown -----------------------------------------------------
    def _status(self) -> dict[str, Any]:
        st: dict[str, Any] = {
            "api_port": self.config.api_port,
            "raft_port": self.config.raft_port,
            "cluster_id": getattr(self, "_cluster_id", None),
        }
        if self.formation is not None:
            st["formation"] = self.formation.status()
        from peer.join import JoinResponder

        join = self.ctx.services.get("join")
        if isinstance(join, JoinResponder):
            st.update(join.status())
        if self.discovery is not None:
            st["discovery"] = self.discovery.status()
        healer = self.ctx.services.get("heal")
        if healer is not None:
            st.update(healer.status())
        return st

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    def request_stop(self) -> None:
        self._stop.set()

    async def shutdown(self) -> None:
        log.info("shutting down")
        for loop in self._loops:
            stop = getattr(loop, "stop", None)
            if stop is not None:
                res = stop()
                if asyncio.iscoroutine(res):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(res, 5)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.discovery is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.discovery.async_stop(), 5)
        if self.runner is not None:
            await self.runner.cleanup()
        if self.store is not None:
            await self.store.stop()
        firewall = self.ctx.services.get("firewall") if hasattr(self, "ctx") else None
        if firewall is not None:
            with contextlib.suppress(Exception):
                await firewall.remove()
        if self.watchdog is not None:
            self.watchdog.close()  # an orderly stop disarms it (unless we fenced)
        log.info("stopped")


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a peer task failed", exc_info=task.exception())


def _der_fp(cert: Path) -> str:
    import hashlib
    import ssl

    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return hashlib.sha256(der).hexdigest()


def announce_first_admin(
    password: str, path: Path, url: str, cluster_name: str, out: TextIO | None = None
) -> None:
    """The first admin's password goes to a root-only file and, when the daemon
    runs on a terminal (the host's console), to that terminal, never to a log:
    under systemd or the lab, stdout is a log, so only the file's name is said."""
    write_file(path, password + "\n", 0o600)
    out = out if out is not None else sys.stdout
    if out.isatty():
        print(
            f"\nQuantix cluster {cluster_name!r} created.\n"
            f"  URL:      {url}\n"
            f"  login:    admin\n"
            f"  password: {password}\n"
            f"  (also in {path}, readable by root only)\n",
            file=out,
            flush=True,
        )
    else:
        log.warning("the first admin password is in %s (readable by root only)", path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="quantix peer", description="Run this host's Quantix peer.")
    ap.add_argument("--config", type=Path, default=Path("/etc/quantix/node.yaml"))
    args = ap.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"quantix peer: {e}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    peer = Peer(config)

    async def _main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, peer.request_stop)
        return await peer.run()

    try:
        code = asyncio.run(_main())
    except StoreError as e:
        log.error("cannot run: %s", e.message)
        return 1
    except OSError as e:
        log.error("cannot run: %s", e)
        return 1
    except FirewallError as e:
        log.error("cannot run: firewall is on in node.yaml but: %s", e)
        return 1
    if peer.leaving is not None or peer.to_factory:
        # A fresh process, not a restart of every loop in this one: nothing of
        # the old instance (tasks, Raft threads, watches) can survive into the new.
        log.warning("starting again to join the other instance")
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 (our own argv)
    return code


if __name__ == "__main__":
    sys.exit(main())
