"""Both ends of a live migration, for the reconciler (docs/ha.md, "Live migration").

The leader has committed ``placement = target`` (epoch + 1) with the intent
``migration = {kind: live, source, target, source_epoch}``. The two peers then
talk only through ``vm_status/<id>`` (one record per VM, whoever writes last):

1. the **target** defines the domain, starts it paused waiting for the guest
   (``Driver.start_incoming``) and offers it: ``{node: target, epoch: new,
   state: "migrating", incoming: {uri, source, source_epoch}}`` — or
   ``incoming: {error}`` when it cannot receive, and the source moves it cold;
2. the **source**, woken by that offer, sends the running guest there
   (``Driver.migrate_out``; the task shows the progress and may cancel it). When
   QEMU says *completed* the source's guest is paused for good: the source
   destroys its copy and reports it stopped (``reason: handed_over``). On failure
   its guest runs on and it reports ``migration_error``: the leader sends the VM
   back to it and the target drops its waiting copy;
3. the **target**, woken by that report, resumes the guest it holds. It resumes
   only after the source's copy is gone, so two executing copies never exist.

Until then the target starts nothing of its own (``rules.may_start`` ignores its
``migrating`` report). If the source dies mid-way the leader clears the intent
once the source is fenced; a target holding a complete guest resumes it, one
holding a partial one destroys it and boots the VM cold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from hypervisor.contract import DomainInfo, Driver
from hypervisor.errors import DomainNotFound, HypervisorError, Unsupported
from peer.agent.status import disconnected
from peer.events.log import event_ops, event_value
from raft.errors import StoreError
from raft.store import Store, put

log = logging.getLogger(__name__)
T = TypeVar("T")

# The source waits this long for the target's offer before moving the VM cold.
OFFER_TIMEOUT_S = 60.0
PROGRESS_EVERY_S = 1.0

# How many ports of the guarded range a target tries before giving up (moving cold).
PORT_TRIES = 5


class MigrationGuard(Protocol):
    """The host firewall's side of an incoming migration (peer/firewall.py):
    only ``source`` may reach ``port``, opened before QEMU listens."""

    migration_ports: tuple[int, int]

    async def allow_migration(self, source: str, port: int) -> None: ...

    async def revoke_migration(self, source: str, port: int) -> None: ...


Run = Callable[..., Awaitable[Any]]
Commit = Callable[[list[dict[str, Any]]], Awaitable[bool]]
Define = Callable[[str, dict[str, Any], int], Awaitable[DomainInfo | None]]


def live_intent(vm: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    mig = vm.get("migration") if vm is not None else None
    if isinstance(mig, Mapping) and mig.get("kind") == "live":
        return mig
    return None


def source_handed_over(mig: Mapping[str, Any], st: Mapping[str, Any]) -> bool:
    """The source reports its copy (of the epoch it held) stopped and gone."""
    return (
        st.get("node") == mig.get("source")
        and st.get("epoch") == mig.get("source_epoch")
        and st.get("state") == "stopped"
    )


def source_failed(mig: Mapping[str, Any], st: Mapping[str, Any]) -> bool:
    """The source reports the migration failed (its guest runs on there)."""
    return (
        st.get("node") == mig.get("source")
        and st.get("epoch") == mig.get("source_epoch")
        and bool(st.get("migration_error"))
    )


def offer_of(vm: Mapping[str, Any], st: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The target's offer for the VM's current placement, if it is the last report."""
    inc = st.get("incoming")
    if (
        st.get("state") == "migrating"
        and st.get("node") == vm.get("placement")
        and st.get("epoch") == vm.get("placement_epoch")
        and isinstance(inc, Mapping)
    ):
        return inc
    return None


class LiveMigrations:
    """The reconciler's live-migration steps; ``run`` calls the blocking driver
    off the loop, ``commit`` commits to the store (False when it could not),
    ``define`` defines the VM's domain at an epoch (the reconciler's own step)."""

    def __init__(
        self,
        store: Store,
        driver: Driver,
        node_id: str,
        address: str | None,
        run: Run,
        commit: Commit,
        define: Define,
        guard: MigrationGuard | None = None,
    ) -> None:
        self.store = store
        self.guard = guard
        self.driver = driver
        self.node_id = node_id
        self.address = address
        self._run = run
        self._commit = commit
        self._define = define
        self._waiting_since: dict[str, float] = {}  # source: first pass without an offer

    # -- the target -----------------------------------------------------------------
    def is_target(self, vm: Mapping[str, Any]) -> bool:
        mig = live_intent(vm)
        return (
            mig is not None
            and vm.get("placement") == self.node_id
            and mig.get("source") != self.node_id
        )

    async def receive(
        self, vm_id: str, vm: dict[str, Any], st: Mapping[str, Any], dom: DomainInfo | None
    ) -> bool:
        """One pass as the target; True while the migration holds the VM (the
        reconciler does nothing else with it), False when the ordinary pass may go
        on (the guest has been resumed here, or it is to boot cold)."""
        mig = live_intent(vm)
        assert mig is not None
        epoch = int(vm.get("placement_epoch") or 0)
        handed_over = source_handed_over(mig, st)
        if source_failed(mig, st):
            # The leader is about to send the VM back: drop our waiting copy and
            # leave the source's report for the leader to read.
            if dom is not None and dom.state != "stopped":
                await self._run(self.driver.stop, vm_id)
            return True
        if dom is not None and dom.state != "stopped":
            inc = await self._incoming_status(vm_id)
            if inc == "completed" and handed_over:
                log.info("VM %s: the guest arrived from %s; resuming it", vm_id, mig.get("source"))
                await self._close_port(vm_id, vm, st)
                await self._run(self.driver.resume, vm_id)
                return False
            if inc in ("receiving", "completed") and not handed_over:
                return True  # the source is sending, or has yet to destroy its copy
            if inc == "none":
                return False  # an ordinary domain of this epoch (e.g. the VM went cold)
            # Failed, or still listening although the source's copy is gone (it
            # moved the VM cold): this copy holds no guest, and never ran one.
            await self._run(self.driver.stop, vm_id)
            if handed_over:
                return False
            await self._offer(vm_id, vm, mig, None, f"the incoming migration {inc}")
            return True
        if handed_over:
            return False  # nothing to receive any more: the ordinary pass boots it
        offered = offer_of(vm, st)
        if offered is not None and st.get("node") == self.node_id and offered.get("uri"):
            # We offered, and our waiting copy is gone (QEMU gave up): say so, so
            # the source moves the guest cold instead of sending it nowhere.
            await self._offer(vm_id, vm, mig, None, "the waiting copy stopped")
            return True
        if offered is not None and offered.get("error"):
            return True  # already refused; the source moves it cold
        try:
            if self.address is None:
                raise Unsupported("this host has no management address to listen on")
            if dom is None:
                await self._define(vm_id, vm, epoch)
            uri = await self._listen(vm_id, str(mig.get("source") or ""))
        except HypervisorError as e:
            log.warning("VM %s: cannot receive it live (%s): moving it cold", vm_id, e.message)
            await self._offer(vm_id, vm, mig, None, e.message)
            return True
        log.info("VM %s: waiting for the guest from %s at %s", vm_id, mig.get("source"), uri)
        await self._offer(vm_id, vm, mig, uri, None)
        return True

    async def _listen(self, vm_id: str, source: str) -> str:
        """QEMU listens for the guest; with a firewall, on a port of the guarded
        range that only the source host may reach (opened before it listens)."""
        assert self.address is not None
        if self.guard is None:
            return str(await self._run(self.driver.start_incoming, vm_id, self.address))
        src = self._address_of(source)
        lo, hi = self.guard.migration_ports
        ports = random.sample(range(lo, hi + 1), min(PORT_TRIES, hi - lo + 1))
        for i, port in enumerate(ports):
            await self.guard.allow_migration(src, port)
            try:
                return str(await self._run(self.driver.start_incoming, vm_id, self.address, port))
            except HypervisorError:
                await self.guard.revoke_migration(src, port)
                if i == len(ports) - 1:
                    raise
        raise Unsupported("no migration port to listen on")

    def _address_of(self, node: str) -> str:
        rec = self.store.get("nodes", node)
        addr = rec.value.get("address") if rec is not None else None
        if not addr:
            raise Unsupported(f"the source host {node} has no known address")
        return str(addr)

    async def _close_port(self, vm_id: str, vm: Mapping[str, Any], st: Mapping[str, Any]) -> None:
        """The migration is over: take the source's firewall opening away (it
        would time out by itself)."""
        offered = offer_of(vm, st) or st.get("incoming") or {}
        uri, mig = str(offered.get("uri") or ""), live_intent(vm) or {}
        if self.guard is None or not uri.startswith("tcp:"):
            return
        try:
            src, port = self._address_of(str(mig.get("source") or "")), int(uri.rsplit(":", 1)[1])
        except (Unsupported, ValueError):
            return
        await self.guard.revoke_migration(src, port)

    async def _incoming_status(self, vm_id: str) -> str:
        try:
            return str(await self._run(self.driver.incoming_status, vm_id))
        except Unsupported:
            return "none"
        except DomainNotFound:
            return "stopped"

    async def _offer(
        self,
        vm_id: str,
        vm: Mapping[str, Any],
        mig: Mapping[str, Any],
        uri: str | None,
        error: str | None,
    ) -> None:
        status = {
            "node": self.node_id,
            "epoch": int(vm.get("placement_epoch") or 0),
            "state": "migrating",
            "reason": "incoming",
            "power_state": "paused" if uri else None,
            "error": None,
            "error_step": None,
            "console": None,
            "agent": disconnected(),
            "incoming": {
                "uri": uri,
                "error": error,
                "source": mig.get("source"),
                "source_epoch": mig.get("source_epoch"),
            },
            "updated_at": time.time(),
        }
        await self._commit([put("vm_status", vm_id, status)])

    # -- the source -----------------------------------------------------------------
    async def send(self, vm_id: str, vm: Mapping[str, Any], st: Mapping[str, Any]) -> str:
        """One pass as the source. Returns ``"wait"`` (no offer yet: a report
        wakes us), ``"cold"`` (move it cold instead), ``"sent"`` (the target holds
        the guest; the local copy is paused for good: remove it and report it
        stopped) or ``"failed"`` (the guest runs on here; reported)."""
        mig = live_intent(vm)
        assert mig is not None
        offer = offer_of(vm, st)
        if offer is None:
            first = self._waiting_since.setdefault(vm_id, time.monotonic())
            if time.monotonic() - first < OFFER_TIMEOUT_S:
                return "wait"
            log.warning("VM %s: no offer from %s in time: moving it cold", vm_id, mig.get("target"))
            self._waiting_since.pop(vm_id, None)
            return "cold"
        self._waiting_since.pop(vm_id, None)
        if not offer.get("uri"):
            log.warning(
                "VM %s: %s cannot receive it live: %s", vm_id, mig.get("target"), offer.get("error")
            )
            return "cold"
        try:
            dom = await self._run(self.driver.domain_info, vm_id)
        except DomainNotFound:
            return "cold"
        if dom.state != "running":
            return "cold"  # nothing executes: a cold move loses nothing
        task = str(mig.get("task") or "") or None
        return await self._send(vm_id, mig, str(offer["uri"]), task)

    async def _send(self, vm_id: str, mig: Mapping[str, Any], uri: str, task: str | None) -> str:
        progress = {"fraction": 0.0, "cancel": False}

        def on_progress(fraction: float) -> None:
            progress["fraction"] = fraction

        def cancelled() -> bool:
            return bool(progress["cancel"])

        follower = asyncio.create_task(self._follow_task(task, progress)) if task else None
        t0 = time.monotonic()
        try:
            res = await self._run(self.driver.migrate_out, vm_id, uri, on_progress, cancelled)
        except HypervisorError as e:
            log.warning(
                "VM %s: live migration to %s failed: %s", vm_id, mig.get("target"), e.message
            )
            await self._report_failure(vm_id, mig, e.message)
            return "failed"
        finally:
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
        took = time.monotonic() - t0
        text = (
            f"sent live to {mig.get('target')} in {took:.2f} s"
            f" (guest paused {res.get('downtime', '?')} ms)"
        )
        log.info("VM %s: %s", vm_id, text)
        ev = event_value("vm.sent_live", "vms", vm_id, text, node=self.node_id)
        await self._commit(event_ops(self.store, ev))
        if task:
            await self._task_result(task, took, res)
        return "sent"

    async def _task_result(self, task: str, took: float, res: Mapping[str, Any]) -> None:
        """QEMU's figures on the task, for the person who asked (best effort: the
        leader marks the task done once the target reports the guest)."""
        ram = res.get("ram") or {}
        result = {
            "kind": "live",
            "seconds": round(took, 3),
            "downtime_ms": res.get("downtime"),
            "transferred_bytes": ram.get("transferred"),
        }
        for _ in range(3):
            rec = self.store.get("tasks", task)
            if rec is None:
                return
            new = dict(rec.value, progress=1.0, result=result, updated_at=time.time())
            with contextlib.suppress(StoreError):
                await self.store.put("tasks", task, new, expect=rec.version)
                return

    async def _follow_task(self, task: str, progress: dict[str, Any]) -> None:
        """Publish the progress on the task and pick up its ``cancel`` flag."""
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            rec = self.store.get("tasks", task)
            if rec is None:
                continue
            progress["cancel"] = bool(rec.value.get("cancel"))
            fraction = round(float(progress["fraction"]), 3)
            if rec.value.get("progress") == fraction:
                continue
            new = dict(rec.value, progress=fraction, updated_at=time.time())
            with contextlib.suppress(StoreError):
                await self.store.put("tasks", task, new, expect=rec.version)

    async def _report_failure(self, vm_id: str, mig: Mapping[str, Any], why: str) -> None:
        status = {
            "node": self.node_id,
            "epoch": mig.get("source_epoch"),
            "state": "running",
            "reason": "migration_failed",
            "migration_error": why,
            "updated_at": time.time(),
        }
        await self._commit([put("vm_status", vm_id, status)])
