"""The reconciler: makes this host's domains match the VMs placed on it.

For every VM id that concerns this peer (placed here, or with a domain here) a
worker reconciles it once per *kick*; kicks come from store watches (``vms``,
``tasks``, other peers' ``vm_status`` reports), libvirt lifecycle events (the
guest powered off, crashed, paused on an I/O error) and, slowly, a periodic
resync. One worker per VM at a time, so a
VM's steps never interleave; different VMs proceed in parallel on a thread pool
(driver calls block).

Each pass: the HA safety rule (a domain of a VM placed elsewhere, or deleted,
is destroyed; a running domain of an older placement epoch is forced off),
then define if missing, apply spec changes (offline resize, disk hot-plug),
converge to ``desired`` and commit the observed state to ``vm_status`` when it
changed. A failed step is recorded there (``error`` with libvirt's message) and
is retried on the next kick or resync, never in a hot loop; the driver
guarantees the failed step left nothing behind. Nothing here cares who placed
the VM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hypervisor.contract import DomainEvent, DomainInfo, Driver
from hypervisor.errors import DomainExists, DomainNotFound, HypervisorError, InvalidState
from hypervisor.spec import VmSpec, parse_spec
from peer.agent.status import disconnected
from peer.events.log import event_ops, event_value
from peer.reconciler.live import LiveMigrations, MigrationGuard, live_intent
from peer.reconciler.resolve import (
    Decision,
    ResolveError,
    decide,
    kept_volumes,
    pools_needed,
    resolve_spec,
)
from peer.storage_roots import PathRefused, pool_dir
from raft.errors import StoreError
from raft.store import Store, put
from raft.store import delete as delete_op

if TYPE_CHECKING:
    from peer.agent.manager import AgentManager

log = logging.getLogger(__name__)
T = TypeVar("T")

TASK_KINDS = {"start": "running", "shutdown": "stopped", "stop": "stopped", "pause": "paused"}
TASK_KINDS["resume"] = "running"
RESOLVE_TABLES = ("volumes", "images", "networks", "pools")
# Pauses not to undo: an I/O error waits for a person; the others are libvirt's
# own, for the length of a snapshot, save, dump or start, and it resumes itself.
HELD_PAUSES = frozenset({"io_error", "snapshot", "save", "dump", "starting_up", "migration"})


# VM record fields that a pass never acts on (labels go into a domain's metadata
# when it is defined, and are not updated on a running one).
PASSIVE_FIELDS = frozenset({"labels", "description"})


class Reconciler:
    def __init__(
        self,
        store: Store,
        driver: Driver,
        node_id: str,
        *,
        resync_interval: float = 30.0,
        shutdown_timeout: float = 60.0,
        workers: int = 8,
        retry_after: float = 10.0,
        migration_address: str | None = None,
        fenced: Callable[[], bool] | None = None,
        agents: AgentManager | None = None,
        migration_guard: MigrationGuard | None = None,
        pool_roots: Mapping[str, Path] | None = None,
    ) -> None:
        self.store = store
        # This host's allowed pool roots: a pool's directory is derived from them,
        # never taken from the record (None: trust the record; unit tests only).
        self.pool_roots = pool_roots
        # Whether this host is fenced: the lease renewer's own flag (set before it
        # pulls the plug, so a guest it kills is not started again by the event
        # that reports it dead). Without one, the stored lease says.
        self._is_fenced = fenced
        # The guest agents of this host's VMs (peer.agent): graceful power,
        # time sync after a resume, and the ``agent`` field of our reports.
        self.agents = agents
        self.driver = driver
        self.node_id = node_id
        self.resync_interval = resync_interval
        self.shutdown_timeout = shutdown_timeout
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="reconciler")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dirty: set[str] = set()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._last_status: dict[str, dict[str, Any]] = {}
        self._errors: dict[str, tuple[str, str]] = {}  # vm -> (step, message)
        # vm -> (monotonic time, record version) of its last failed pass: until
        # retry_after has passed or the record changes, passes only observe, so
        # the events a failed attempt itself causes do not retry it in a loop.
        self._failed_at: dict[str, tuple[float, int]] = {}
        self.retry_after = retry_after
        self._retry_timers: dict[str, asyncio.TimerHandle] = {}
        self._pools_ready: set[str] = set()
        self._guest_stopped: set[str] = set()  # VMs whose guest powered itself off
        self._local: set[str] = set()  # VMs with a domain on this host (last seen)
        self._seen: dict[str, dict[str, Any]] = {}  # VM records as last acted on
        self._our_shutdowns: dict[str, float] = {}  # VMs we asked to shut down, when
        self._stopping = False
        self.passes = 0  # reconcile passes run (for tests and metrics)
        # The target listens for live migrations on the management address.
        self.live = LiveMigrations(
            store,
            driver,
            node_id,
            migration_address,
            self._run,
            self._commit,
            self._define,
            migration_guard,
        )

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Adopt local domains, reconcile every VM placed here, then follow changes."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        rev = self.store.revision
        watch = self.store.watch(["vms", "tasks", "vm_status"], from_revision=rev)
        self._unsubscribe = self.driver.subscribe(self._on_domain_event)
        for vm_id in await self._known_ids():
            self.kick(vm_id)
        self._tasks = [
            asyncio.create_task(self._watch_loop(watch), name="reconciler-watch"),
            asyncio.create_task(self._resync_loop(), name="reconciler-resync"),
        ]

    async def stop(self) -> None:
        """Stop following changes and wait for passes in flight (domains keep running)."""
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        for h in self._retry_timers.values():
            h.cancel()
        self._retry_timers.clear()
        workers = list(self._workers.values())
        for w in workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await w
        self._pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        return {
            "reconciler": {
                "vms": len(self._last_status),
                "busy": len(self._workers),
                "errors": {k: v[1] for k, v in self._errors.items()},
                "passes": self.passes,
            }
        }

    # -- kicks ----------------------------------------------------------------------
    def kick(self, vm_id: str) -> None:
        """Reconcile ``vm_id`` soon (coalesced with a pass already queued). Loop only."""
        if self._stopping:
            return
        self._dirty.add(vm_id)
        if vm_id not in self._workers:
            self._workers[vm_id] = asyncio.create_task(self._worker(vm_id))

    def _on_domain_event(self, ev: DomainEvent) -> None:
        # libvirt's event thread: hand over to the loop and return at once.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._domain_event, ev)

    def _domain_event(self, ev: DomainEvent) -> None:
        self._local.add(ev.vm_id)  # the pass it kicks looks and corrects this
        if ev.event == "stopped" and ev.detail == "shutdown":
            asked = self._our_shutdowns.pop(ev.vm_id, None)
            if asked is None or time.monotonic() - asked > 3600:
                self._guest_stopped.add(ev.vm_id)
        self.kick(ev.vm_id)

    async def _worker(self, vm_id: str) -> None:
        try:
            while vm_id in self._dirty and not self._stopping:
                self._dirty.discard(vm_id)
                try:
                    await self.reconcile(vm_id)
                except Exception:
                    log.exception("reconciling %s failed unexpectedly", vm_id)
        finally:
            self._workers.pop(vm_id, None)

    async def _watch_loop(self, watch: Any) -> None:
        with watch:
            async for c in watch:
                if c.table == "vms":
                    # Only VMs that concern this host: a lookup of a domain that is
                    # not here costs a libvirt call and an error line in the log.
                    if self._concerns(c.key, c.value) and self._acts_on(c.key, c.value):
                        self.kick(c.key)
                elif c.table == "vm_status":
                    # Another peer's report (a migration's source handing over) can
                    # be what a VM placed here waits for; our own reports are not.
                    # And a live migration's source waits for its target's offer.
                    if c.value is not None and c.value.get("node") != self.node_id:
                        vm = self.store.get("vms", c.key)
                        mig = live_intent(vm.value if vm is not None else None)
                        if vm is not None and (
                            vm.value.get("placement") == self.node_id
                            or (mig is not None and mig.get("source") == self.node_id)
                        ):
                            self.kick(c.key)
                elif c.table == "tasks" and c.value is not None:
                    res = str(c.value.get("resource") or "")
                    if res.startswith("vms/") and c.value.get("state") == "pending":
                        vm = self.store.get("vms", res[4:])
                        if vm is not None and vm.value.get("placement") == self.node_id:
                            self.kick(res[4:])

    def _acts_on(self, vm_id: str, vm: dict[str, Any] | None) -> bool:
        """False when the record changed only in fields no pass acts on: an API
        client relabelling VMs must not cost a pass (a domain lookup, an XML
        parse, a scan of the tables a spec resolves against) per write."""
        if vm is None:
            self._seen.pop(vm_id, None)
            return True
        acted = {k: v for k, v in vm.items() if k not in PASSIVE_FIELDS}
        if self._seen.get(vm_id) == acted:
            return False
        self._seen[vm_id] = acted
        return True

    def _concerns(self, vm_id: str, vm: dict[str, Any] | None) -> bool:
        """Whether a change of ``vm_id``'s record is for this host: it is placed
        here, moves from or to here, has a domain here, or was reported from here."""
        if vm_id in self._local:
            return True
        if vm is not None:
            mig = vm.get("migration")
            if vm.get("placement") == self.node_id:
                return True
            if isinstance(mig, dict) and self.node_id in (mig.get("source"), mig.get("target")):
                return True
        st = self.store.get("vm_status", vm_id)
        return st is not None and st.value.get("node") == self.node_id

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval)
            try:
                for vm_id in await self._known_ids():
                    self.kick(vm_id)
            except Exception:
                log.exception("resync failed")

    async def _known_ids(self) -> set[str]:
        ids = {r.key for r in self.store.scan("vms") if r.value.get("placement") == self.node_id}
        try:
            local = {d.vm_id for d in await self._run(self.driver.list_domains)}
            self._local = local
            ids |= local
        except HypervisorError as e:
            log.warning("cannot list domains: %s", e.message)
        return ids

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args))

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no pass is queued or running (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._workers or self._dirty:
            if time.monotonic() > deadline:
                raise TimeoutError("the reconciler is still busy")
            await asyncio.sleep(0.01)

    # -- one pass -----------------------------------------------------------------------
    async def reconcile(self, vm_id: str) -> None:
        self.passes += 1
        rec = self.store.get("vms", vm_id)
        vm = rec.value if rec is not None else None
        st = self.store.get("vm_status", vm_id)
        dom = await self._domain(vm_id)
        d = decide(
            vm,
            st.value if st is not None else None,
            self.node_id,
            dom.epoch if dom else None,
            dom is not None,
            self._fenced(),
        )
        if d.hand_over:
            assert vm is not None
            await self._hand_over(vm_id, vm, st.value if st is not None else {}, d)
            return
        if d.remove:
            if await self._remove(vm_id, d) and vm is None:
                await self._forget(vm_id)
            return
        if d.report_source is not None:
            await self._report_source(vm_id, d.report_source)
            return
        if not d.manage:
            if vm is None:
                await self._forget(vm_id)
            return
        assert vm is not None and rec is not None
        if self.live.is_target(vm):
            if await self.live.receive(vm_id, vm, st.value if st is not None else {}, dom):
                return
            dom = await self._domain(vm_id)
        if vm_id in self._guest_stopped:
            self._guest_stopped.discard(vm_id)
            if d.desired == "running":
                vm = await self._guest_powered_off(vm_id, vm, rec.version)
                d = replace(d, desired=str(vm.get("desired")))
        if not d.may_start and (dom is None or dom.state in ("stopped", "crashed")):
            # A migration's target waiting for the source's hand-over, or a fenced
            # host: no copy is defined or started here, and nothing is reported.
            log.info("VM %s: not starting here yet: %s", vm_id, d.why)
            return
        error: tuple[str, str] | None = None
        failed = self._failed_at.get(vm_id)
        if (
            failed is not None
            and failed[1] == rec.version
            and time.monotonic() - failed[0] < self.retry_after
        ):
            # Backing off: report what is, keep the error, try again later.
            await self._report(vm_id, vm, d, dom, self._errors.get(vm_id))
            self._schedule_retry(vm_id, failed[0] + self.retry_after - time.monotonic())
            return
        try:
            dom = await self._manage(vm_id, vm, d, dom)
        except (HypervisorError, ResolveError) as e:
            step = getattr(e, "step", None) or "reconcile"
            error = (step, e.message)
            log.warning("VM %s: %s failed: %s", vm_id, step, e.message)
            with contextlib.suppress(HypervisorError):
                dom = await self._domain(vm_id)
        if error:
            self._errors[vm_id] = error
            self._failed_at[vm_id] = (time.monotonic(), rec.version)
            self._schedule_retry(vm_id, self.retry_after)
        else:
            self._errors.pop(vm_id, None)
            self._failed_at.pop(vm_id, None)
        await self._report(vm_id, vm, d, dom, error)

    def _schedule_retry(self, vm_id: str, delay: float) -> None:
        old = self._retry_timers.pop(vm_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._retry_timers[vm_id] = loop.call_later(max(0.0, delay) + 0.01, self.kick, vm_id)

    async def _guest_powered_off(
        self, vm_id: str, vm: dict[str, Any], version: int
    ) -> dict[str, Any]:
        """The guest shut itself down: that is the user's wish, not a failure to
        undo, so the desired state follows (a crash, by contrast, is restarted)."""
        new = dict(vm, desired="stopped")
        ev = event_value(
            "vm.guest_shutdown",
            "vms",
            vm_id,
            f"the guest of VM {vm.get('name')} powered itself off",
            node=self.node_id,
        )
        ops = [put("vms", vm_id, new, expect=version), *event_ops(self.store, ev)]
        return new if await self._commit(ops) else vm

    async def _domain(self, vm_id: str) -> DomainInfo | None:
        try:
            info = await self._run(self.driver.domain_info, vm_id)
        except DomainNotFound:
            self._local.discard(vm_id)
            return None
        self._local.add(vm_id)
        return info

    def _fenced(self) -> bool:
        if self._is_fenced is not None:
            return self._is_fenced()
        lease = self.store.get("leases", self.node_id)
        return bool(lease is not None and lease.value.get("fenced"))

    async def _hand_over(
        self, vm_id: str, vm: dict[str, Any], st: dict[str, Any], d: Decision
    ) -> None:
        """The source of a live migration: send the guest to the target's offer
        (peer.reconciler.live); if it cannot go live, move it cold: shut the guest
        down (ACPI, then force), remove the domain and report the stopped copy,
        which the target waits for before it boots the VM."""
        outcome = await self.live.send(vm_id, vm, st)
        if outcome in ("wait", "failed"):
            return
        if outcome == "cold":
            log.warning("VM %s: %s: moving it cold", vm_id, d.why)
            self._our_shutdowns[vm_id] = time.monotonic()
            with contextlib.suppress(DomainNotFound):
                try:
                    await self._run(self.driver.shutdown, vm_id, self.shutdown_timeout)
                except HypervisorError as e:
                    log.warning("VM %s: shutdown for the hand-over failed: %s", vm_id, e.message)
                    await self._run(self.driver.stop, vm_id)
        # Sent live (our copy is paused for good) or shut down: remove it and
        # report it stopped, the target's signal to resume or boot the guest.
        await self._remove(vm_id, replace(d, remove=True, purge_disks=False))

    async def _report_source(self, vm_id: str, epoch: int) -> None:
        """As a migration's source: our copy (of ``epoch``) is stopped and gone."""
        status = {
            "node": self.node_id,
            "epoch": epoch,
            "state": "stopped",
            "reason": "handed_over",
            "power_state": None,
            "error": None,
            "error_step": None,
            "console": None,
            "agent": disconnected(),
        }
        if await self._commit([put("vm_status", vm_id, {**status, "updated_at": time.time()})]):
            self._last_status.pop(vm_id, None)

    async def _remove(self, vm_id: str, d: Decision) -> bool:
        keep: set[tuple[str, str]] = set()
        if d.purge_disks:
            keep = kept_volumes(self._tables(("volumes",)))
        log.info("VM %s: removing the local domain (%s)", vm_id, d.why)
        try:
            await self._run(self.driver.delete, vm_id, d.purge_disks, keep)
        except DomainNotFound:
            pass
        except HypervisorError as e:
            log.warning("VM %s: removing the domain failed: %s", vm_id, e.message)
            self._errors[vm_id] = ("remove", e.message)
            self._schedule_retry(vm_id, self.retry_after)
            return False
        self._errors.pop(vm_id, None)
        ev = event_value(
            "vm.domain_removed", "vms", vm_id, f"domain removed: {d.why}", node=self.node_id
        )
        await self._commit(event_ops(self.store, ev))
        if d.report_source is not None:
            await self._report_source(vm_id, d.report_source)
        return True

    async def _forget(self, vm_id: str) -> None:
        """Drop our vm_status record of a deleted VM."""
        self._last_status.pop(vm_id, None)
        self._errors.pop(vm_id, None)
        self._failed_at.pop(vm_id, None)
        st = self.store.get("vm_status", vm_id)
        if st is not None and st.value.get("node") == self.node_id:
            await self._commit([delete_op("vm_status", vm_id, expect=st.version)])

    def _tables(self, names: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
        return {t: {r.key: r.value for r in self.store.scan(t)} for t in names}

    async def _manage(
        self, vm_id: str, vm: dict[str, Any], d: Decision, dom: DomainInfo | None
    ) -> DomainInfo | None:
        if d.restart and dom is not None and dom.state != "stopped":
            log.warning("VM %s: %s: forcing it off", vm_id, d.why)
            await _step("stop_stale", self._run(self.driver.stop, vm_id))
            dom = await self._domain(vm_id)
        spec = await self._spec(vm_id, vm)
        if dom is None:
            dom = await self._define(vm_id, vm, d.epoch, spec)
        elif dom.epoch != d.epoch:
            # A stale copy was forced off above; an adopted one (a reverted
            # migration) keeps running: either way it now holds this epoch.
            await _step("epoch", self._run(self.driver.set_epoch, vm_id, d.epoch))
        assert dom is not None
        dom = await self._apply_spec(vm_id, spec, dom)
        dom = await self._converge(vm_id, vm, d, dom)
        await self._finish_task(vm, dom)
        return dom

    async def _spec(self, vm_id: str, vm: dict[str, Any]) -> VmSpec:
        """The driver's spec for the record, with the pools it needs in place."""
        tables = self._tables(RESOLVE_TABLES)
        raw = _step_sync("resolve", lambda: resolve_spec(vm, tables))
        spec = _step_sync("validate", lambda: parse_spec(vm_id, raw))
        for name, path in pools_needed(raw, tables).items():
            if name not in self._pools_ready:
                if self.pool_roots is not None:
                    path = self._pool_dir(name, tables)
                await _step("pool", self._run(self.driver.ensure_pool, name, path))
                self._pools_ready.add(name)
        return spec

    def _pool_dir(self, name: str, tables: Mapping[str, Mapping[str, Any]]) -> str:
        assert self.pool_roots is not None
        try:
            return str(pool_dir(self.pool_roots, tables["pools"][name], name))
        except PathRefused as e:
            err = ResolveError(f"pool {name}: {e.message}")
            err.step = "pool"  # type: ignore[attr-defined]
            raise err from None

    async def _define(
        self, vm_id: str, vm: dict[str, Any], epoch: int, spec: VmSpec | None = None
    ) -> DomainInfo | None:
        spec = spec or await self._spec(vm_id, vm)
        dom: DomainInfo | None
        self._local.add(vm_id)  # also when the define fails half-way: look again
        try:
            dom = await _step("define", self._run(self.driver.create, spec, epoch))
        except DomainExists:
            dom = await self._domain(vm_id)
        await self._volumes_ready(vm, spec)
        return dom

    async def _apply_spec(self, vm_id: str, spec: VmSpec, dom: DomainInfo) -> DomainInfo:
        """Spec changes on an existing domain: CPU/memory when stopped, disks any time."""
        if dom.state == "stopped" and (dom.vcpus, dom.memory_mib) != (spec.vcpus, spec.memory_mib):
            dom = await _step(
                "resize", self._run(self.driver.resize, vm_id, spec.vcpus, spec.memory_mib)
            )
        have = {disk["id"] for disk in await self._run(self.driver.list_disks, vm_id)}
        want = {disk.id: disk for disk in spec.disks}
        for disk_id, disk in want.items():
            if disk_id not in have:
                await _step("attach_disk", self._run(self.driver.attach_disk, vm_id, disk))
        for disk_id in have - set(want):
            await _step("detach_disk", self._run(self.driver.detach_disk, vm_id, disk_id))
        return dom

    async def _converge(
        self, vm_id: str, vm: dict[str, Any], d: Decision, dom: DomainInfo
    ) -> DomainInfo:
        state = dom.state
        drv = self.driver
        desired = d.desired
        if not d.may_start and state in ("stopped", "crashed"):
            desired = "stopped"  # a copy that may not run here stays off
        if desired == "running":
            if state in ("stopped", "crashed"):
                await _step("start", self._run(drv.start, vm_id))
            elif state == "paused" and dom.reason not in HELD_PAUSES:
                try:
                    await _step("resume", self._run(drv.resume, vm_id))
                except InvalidState:
                    # Resumed meanwhile (a pause libvirt ended itself): fine if it runs.
                    if (await self._run(drv.domain_info, vm_id)).state != "running":
                        raise
                if self.agents is not None:
                    # Its clock stood still while paused.
                    await self.agents.sync_time(vm_id)
        elif desired == "paused":
            if state in ("stopped", "crashed"):
                await _step("start", self._run(drv.start, vm_id))
                await _step("pause", self._run(drv.pause, vm_id))
            elif state == "running":
                await _step("pause", self._run(drv.pause, vm_id))
        elif desired == "stopped" and state in ("running", "paused", "shutting_down"):
            if vm.get("stop_mode") == "force":
                await _step("stop", self._run(drv.stop, vm_id))
            else:
                timeout = float(vm.get("shutdown_timeout") or self.shutdown_timeout)
                self._our_shutdowns[vm_id] = time.monotonic()
                await self._graceful_shutdown(vm_id, vm, timeout)
        await self._maybe_reboot(vm_id, vm)
        return await _step("observe", self._run(drv.domain_info, vm_id))

    async def _graceful_shutdown(self, vm_id: str, vm: dict[str, Any], timeout: float) -> None:
        """Through the guest agent if it is connected, else (or if the guest is
        still up after half the timeout) the ACPI power button, then force."""
        how = "acpi"
        started = time.monotonic()
        if self.agents is not None and await self.agents.power(vm_id, "shutdown"):
            how = "agent"
            if not await self._run(self.driver.wait_stopped, vm_id, timeout / 2):
                log.warning("VM %s: still up after the agent's poweroff: ACPI", vm_id)
                how = "agent_then_acpi"
        if how != "agent":
            left = max(1.0, timeout - (time.monotonic() - started))
            outcome = await _step("shutdown", self._run(self.driver.shutdown, vm_id, left))
            how = "forced" if outcome == "forced" else how
        words = {
            "agent": "through its guest agent",
            "acpi": "through the ACPI power button",
            "agent_then_acpi": "through ACPI after the guest agent's poweroff did not finish",
            "forced": "by force: the guest ignored the shutdown request",
        }
        ev = event_value(
            "vm.shutdown_done",
            "vms",
            vm_id,
            f"VM {vm.get('name')} shut down {words[how]}",
            node=self.node_id,
        )
        await self._commit(event_ops(self.store, ev))

    async def _maybe_reboot(self, vm_id: str, vm: dict[str, Any]) -> None:
        task = self._task(vm)
        if task is None or task[1].get("kind") != "reboot" or task[1].get("state") != "pending":
            return
        await self._set_task(task, "running")
        try:
            if self.agents is None or not await self.agents.power(vm_id, "reboot"):
                await _step("reboot", self._run(self.driver.reboot, vm_id))
        except HypervisorError as e:
            await self._set_task(task, "failed", e.message)
            raise
        await self._set_task(task, "done")

    def _task(self, vm: dict[str, Any]) -> tuple[str, dict[str, Any], int] | None:
        tid = vm.get("last_task")
        if not tid:
            return None
        rec = self.store.get("tasks", str(tid))
        return (rec.key, rec.value, rec.version) if rec is not None else None

    async def _finish_task(self, vm: dict[str, Any], dom: DomainInfo | None) -> None:
        task = self._task(vm)
        if task is None or task[1].get("state") not in ("pending", "running"):
            return
        want = TASK_KINDS.get(str(task[1].get("kind")))
        if want is not None and dom is not None and dom.state == want:
            await self._set_task(task, "done")

    async def _set_task(
        self, task: tuple[str, dict[str, Any], int], state: str, error: str | None = None
    ) -> None:
        tid, value, version = task
        cur = self.store.get("tasks", tid)
        if cur is None:
            return
        new = dict(cur.value, state=state, error=error, updated_at=time.time())
        if state == "done":
            new["progress"] = 1.0
        with contextlib.suppress(StoreError):
            await self.store.put("tasks", tid, new, expect=cur.version)
        del value, version

    async def _volumes_ready(self, vm: dict[str, Any], spec: VmSpec) -> None:
        """Mark the VM's volume records ready (and on this node, for local pools)."""
        pools = {r.key: r.value for r in self.store.scan("pools")}
        ops = []
        for raw in vm.get("disks") or []:
            vid = raw.get("volume")
            rec = self.store.get("volumes", str(vid)) if vid else None
            if rec is None or rec.value.get("state") == "ready":
                continue
            shared = bool(pools.get(str(rec.value.get("pool")), {}).get("shared"))
            new = dict(rec.value, state="ready", node=None if shared else self.node_id)
            ops.append(put("volumes", rec.key, new, expect=rec.version))
        del spec
        if ops:
            await self._commit(ops)

    # -- reporting -------------------------------------------------------------------------
    async def _report(
        self,
        vm_id: str,
        vm: dict[str, Any],
        d: Decision,
        dom: DomainInfo | None,
        error: tuple[str, str] | None,
    ) -> None:
        console: dict[str, Any] | None = None
        agent = disconnected()
        if dom is not None and dom.state != "stopped":
            with contextlib.suppress(HypervisorError):
                paths = await self._run(self.driver.console_paths, vm_id)
                console = {"vnc_socket": paths["vnc_socket"], "serial_log": paths["serial_log"]}
                sock = paths["agent_socket"]
                agent = self.agents.record(vm_id, sock) if self.agents else disconnected(sock)
        power = dom.state if dom is not None else None
        if error:
            state, reason = "error", f"{error[0]}_failed"
        elif dom is None:
            state, reason = "defining", ""
        elif dom.state == "crashed":
            state, reason = "error", "crashed"
        else:
            state, reason = dom.state, dom.reason
        status = {
            "node": self.node_id,
            "epoch": d.epoch,
            "state": state,
            "reason": reason,
            "power_state": power,
            "error": error[1] if error else None,
            "error_step": error[0] if error else None,
            "console": console,
            "agent": agent,
        }
        # Compared with the store, not a cache: a migration's source may have
        # written this record since, and then ours must be written again.
        cur = self.store.get("vm_status", vm_id)
        prev = {k: cur.value.get(k) for k in status} if cur is not None else None
        if prev == status:
            return
        if (
            cur is not None
            and cur.value.get("node") != self.node_id
            and int(cur.value.get("epoch") or 0) > int(str(status.get("epoch") or 0))
        ):
            # Another host reports a newer placement (a live move's target offering
            # its waiting copy): ours must not overwrite it. Our agent's reports
            # during a move did, and the source never saw the offer.
            return
        ops = [put("vm_status", vm_id, {**status, "updated_at": time.time()})]
        if error and (prev is None or prev.get("error") != error[1]):
            ops += event_ops(
                self.store,
                event_value(
                    "vm.error",
                    "vms",
                    vm_id,
                    f"{error[0]} failed: {error[1]}",
                    node=self.node_id,
                    level="error",
                ),
            )
            task = self._task(vm)
            if task is not None and task[1].get("state") in ("pending", "running"):
                await self._set_task(task, "failed", error[1])
        if await self._commit(ops):
            self._last_status[vm_id] = status

    async def _commit(self, ops: list[dict[str, Any]]) -> bool:
        try:
            await self.store.commit(ops)
            return True
        except StoreError as e:
            # No quorum, say: the next kick or resync reports again.
            log.warning("cannot commit: %s", e.message)
            return False


async def _step(step: str, aw: Awaitable[T]) -> T:
    """Await a driver call; an error is tagged with the step that failed."""
    try:
        return await aw
    except (HypervisorError, ResolveError) as e:
        e.step = step  # type: ignore[union-attr]
        raise


def _step_sync(step: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (HypervisorError, ResolveError) as e:
        e.step = step  # type: ignore[union-attr]
        raise
