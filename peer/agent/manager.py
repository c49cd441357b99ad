"""The agents of the VMs this peer hosts: one session per running VM, their
records committed into ``vm_status.agent`` when they change, and the calls the
reconciler (graceful power, time sync) and the API (exec, files, ...) make.

Which VMs: those whose ``vm_status`` says this node and a running or paused
domain, checked every SYNC_S. A commit is a compare-and-set of the current
``vm_status`` record with only ``agent`` replaced, and only when
``status.worth_committing`` says so; the reconciler's own reports carry the
same record (``record()``), so the two writers never undo each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from hypervisor.contract import Driver
from hypervisor.errors import AgentNotConnected, HypervisorError
from peer.agent.session import AgentSession
from peer.agent.status import disconnected, worth_committing
from raft.errors import StoreError
from raft.store import Store, put

log = logging.getLogger(__name__)

SYNC_S = 1.0
LIVE_STATES = ("running", "paused")


class AgentManager:
    def __init__(self, store: Store, driver: Driver, node_id: str) -> None:
        self.store = store
        self.driver = driver
        self.node_id = node_id
        self.sessions: dict[str, AgentSession] = {}
        self._committed: dict[str, tuple[dict[str, Any], float]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="agent-manager")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for s in list(self.sessions.values()):
            await s.stop()
        self.sessions.clear()

    def status(self) -> dict[str, Any]:
        live = sum(1 for s in self.sessions.values() if s.connected)
        return {"agents": {"sessions": len(self.sessions), "connected": live}}

    # -- what others call ---------------------------------------------------------------
    def record(self, vm_id: str, socket: str | None) -> dict[str, Any]:
        """The ``agent`` field of ``vm_status`` for the reconciler's report."""
        s = self.sessions.get(vm_id)
        return s.record() if s is not None else disconnected(socket)

    def session(self, vm_id: str) -> AgentSession:
        s = self.sessions.get(vm_id)
        if s is None:
            raise AgentNotConnected(f"VM {vm_id} has no agent session on this host")
        return s

    async def call(self, vm_id: str, op: str, args: dict[str, Any] | None, timeout: float) -> Any:
        return await self.session(vm_id).call(op, args, timeout)

    async def power(self, vm_id: str, action: str) -> bool:
        """Ask the agent to ``shutdown`` or ``reboot``; False if it cannot."""
        try:
            await self.call(vm_id, action, {}, 10.0)
            return True
        except HypervisorError as e:
            log.info("VM %s: %s through the agent not possible: %s", vm_id, action, e.message)
            return False

    async def sync_time(self, vm_id: str) -> None:
        s = self.sessions.get(vm_id)
        if s is not None and s.connected:
            await s.sync_time()

    def wake(self) -> None:
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            try:
                await self._sync()
                await self._commit_dirty()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("agent manager pass failed")
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SYNC_S)
            self._wake.clear()

    async def _sync(self) -> None:
        want = {
            r.key
            for r in self.store.scan("vm_status")
            if r.value.get("node") == self.node_id and r.value.get("power_state") in LIVE_STATES
        }
        for vm_id in set(self.sessions) - want:
            await self.sessions.pop(vm_id).stop()
            self._committed.pop(vm_id, None)
        for vm_id in want - set(self.sessions):
            try:
                paths = await asyncio.to_thread(self.driver.console_paths, vm_id)
            except HypervisorError:
                continue
            sock = paths.get("agent_socket")
            if not sock:
                continue
            s = AgentSession(vm_id, sock, self._changed)
            self.sessions[vm_id] = s
            s.start()

    def _changed(self, vm_id: str) -> None:
        self._dirty.add(vm_id)
        self._wake.set()

    async def _commit_dirty(self) -> None:
        for vm_id in list(self._dirty):
            self._dirty.discard(vm_id)
            s = self.sessions.get(vm_id)
            if s is None:
                continue
            new = s.record()
            last = self._committed.get(vm_id)
            stale = time.monotonic() - last[1] if last else float("inf")
            if not worth_committing(last[0] if last else None, new, stale):
                continue
            if not await self._commit(vm_id, new):
                self._dirty.add(vm_id)  # try again on the next pass

    async def _commit(self, vm_id: str, new: dict[str, Any]) -> bool:
        rec = self.store.get("vm_status", vm_id)
        if rec is None or rec.value.get("node") != self.node_id:
            return True  # not ours (any more): nothing to report
        if rec.value.get("agent") != new:
            value = {**rec.value, "agent": new, "updated_at": time.time()}
            try:
                await self.store.commit([put("vm_status", vm_id, value, expect=rec.version)])
            except StoreError as e:
                log.info("VM %s: agent status not committed (%s)", vm_id, e.message)
                return False
        self._committed[vm_id] = (new, time.monotonic())
        return True
