"""Events for state changes that are not API calls (the API records its own).

The daemon runs one ``StateEventRecorder`` per peer. Each peer reports what it
is authoritative for, so every change is recorded exactly once cluster-wide:

- the peer hosting a VM: that VM's observed state transitions (``vm_status``);
- every peer: its own node's state (active / maintenance / removed);
- the leader: task completions and VM placements (the scheduler's decisions).

``transition_events`` is the pure decision; ``run`` is the watch loop. Events
are best-effort: one that cannot be committed (no quorum) is logged, not retried
forever.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from peer.events.log import event_ops, event_value
from raft.commands import Change
from raft.errors import StoreError
from raft.store import Store

log = logging.getLogger(__name__)

WATCHED = ("vm_status", "nodes", "tasks", "vms")
TASK_DONE = ("done", "failed", "cancelled")


def transition_events(
    change: Change,
    before: dict[str, Any] | None,
    *,
    node_id: str,
    is_leader: bool,
    vm_name: str | None = None,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The events one change deserves (usually none). Pure."""
    after = change.value
    if after is None:
        return []
    old = before or {}

    def ev(kind: str, resource: str, message: str, level: str = "info") -> dict[str, Any]:
        return event_value(kind, resource, change.key, message, node=node_id, level=level, now=now)

    if change.table == "vm_status" and after.get("node") == node_id:
        state = after.get("state")
        if state != old.get("state"):
            reason = after.get("reason") or after.get("error")
            msg = f"VM {vm_name or change.key} is {state}" + (f": {reason}" if reason else "")
            return [ev("vm.state", "vms", msg, "error" if state == "error" else "info")]
    elif change.table == "nodes" and change.key == node_id:
        if old and after.get("state") != old.get("state"):
            return [ev("node.state", "nodes", f"node {change.key} is {after.get('state')}")]
    elif change.table == "tasks" and is_leader:
        state = after.get("state")
        if state in TASK_DONE and state != old.get("state"):
            msg = f"task {after.get('kind')} of {after.get('resource')} {state}"
            if after.get("error"):
                msg += f": {after['error']}"
            return [ev(f"task.{state}", "tasks", msg, "error" if state == "failed" else "info")]
    elif change.table == "vms" and is_leader:
        placed = after.get("placement")
        if placed and placed != old.get("placement"):
            name = after.get("name") or change.key
            return [ev("vm.placed", "vms", f"VM {name} placed on {placed}")]
    return []


class StateEventRecorder:
    def __init__(self, store: Store, node_id: str) -> None:
        self.store = store
        self.node_id = node_id
        self._last: dict[tuple[str, str], dict[str, Any]] = {}

    def _prime(self) -> int:
        rev = self.store.revision
        for table in WATCHED:
            for rec in self.store.scan(table):
                self._last[(table, rec.key)] = rec.value
        return rev

    def _vm_name(self, key: str) -> str | None:
        rec = self.store.get("vms", key)
        return str(rec.value.get("name")) if rec is not None else None

    def observe(self, change: Change) -> list[dict[str, Any]]:
        """Remember ``change`` and return the events it deserves."""
        k = (change.table, change.key)
        before = self._last.get(k)
        if change.value is None:
            self._last.pop(k, None)
        else:
            self._last[k] = change.value
        name = self._vm_name(change.key) if change.table == "vm_status" else None
        return transition_events(
            change, before, node_id=self.node_id, is_leader=self.store.is_leader, vm_name=name
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Record until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        rev = self._prime()
        with self.store.watch(list(WATCHED), from_revision=rev) as w:
            while not stop.is_set():
                c = await w.next(timeout=1.0)
                if c is None:
                    continue
                for value in self.observe(c):
                    try:
                        await self.store.commit(event_ops(self.store, value), timeout=5.0)
                    except StoreError as e:
                        log.warning("event not recorded (%s): %s", e.code, value["message"])
