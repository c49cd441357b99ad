"""The leader's scheduling pass: commit placements, unplaceable reasons and balancing.

Decisions come from the pure functions (``schedule``, ``balance.recommend``); this
module only turns them into compare-and-set commits. Each VM write expects the
version the decision was made on, so an API edit racing the scheduler wins
cleanly: the scheduler's write fails, and the next pass decides again on the new
record. A commit that fails for any other reason (no quorum, timeout) raises, and
the caller skips the rest of the pass: nothing is done that was not committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from peer.scheduler import records
from peer.scheduler.balance import Move, imbalance, recommend
from peer.scheduler.events import event_ops
from peer.scheduler.model import ClusterState, StateReader, Vm
from peer.scheduler.placement import Placer, eligible_hosts, schedule
from peer.scheduler.policy import SchedulerPolicy
from raft.errors import Conflict
from raft.store import Store, put

log = logging.getLogger(__name__)

Ops = list[dict[str, Any]]


@dataclass
class SchedulerReport:
    placed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    recommendations: list[Move] = field(default_factory=list)
    migrations_started: int = 0


async def commit_each(store: Store, items: Sequence[Ops], batch: int = 100) -> int:
    """Commit each item's ops atomically, ``batch`` items per transaction when they
    all apply; items whose preconditions fail are skipped. Returns how many applied."""
    done = 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        try:
            await store.commit([op for ops in chunk for op in ops])
            done += len(chunk)
            continue
        except Conflict:
            pass  # someone changed one of these records: commit the rest one by one
        for ops in chunk:
            try:
                await store.commit(ops)
                done += 1
            except Conflict:
                continue
    return done


class SchedulerLoop:
    """One scheduling pass per ``step``; run by the leader loop (``peer.ha.manager``)."""

    def __init__(
        self,
        store: Store,
        node_id: str,
        *,
        policy: SchedulerPolicy | None = None,
        lease_ttl: float = 6.0,
        batch: int = 100,
        reader: StateReader | None = None,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self.policy = policy or SchedulerPolicy()
        self.lease_ttl = lease_ttl
        self.batch = batch
        self.reader = reader or StateReader()

    async def step(self, now: float) -> SchedulerReport:
        """Place unplaced VMs, record why the others cannot be, then balance.

        ``now`` is committed time (the leader's fresh commit), not a local clock."""
        state = self.reader.read(self.store)
        policy = self.policy.merged(state.settings)
        result = schedule(state, policy, now, self.lease_ttl)
        report = SchedulerReport(placed=result.placed, errors=result.errors)
        items: list[Ops] = []
        for vm_id, host in result.placed.items():
            vm = state.vms[vm_id]
            items.append(
                [
                    put("vms", vm_id, records.placed(vm, host), vm.version),
                    *self._event(now, "vm.placed", vm, f"{vm.title} placed on {host}", host),
                ]
            )
        for vm_id, why in result.errors.items():
            vm = state.vms[vm_id]
            if vm.placement_error != why:
                items.append(
                    [
                        put("vms", vm_id, records.with_error(vm, why), vm.version),
                        *self._event(now, "vm.unplaceable", vm, why, None, "warning"),
                    ]
                )
        await commit_each(self.store, items, self.batch)
        if policy.drs_mode != "off":
            await self._balance(now, policy, report)
        return report

    def _event(
        self,
        now: float,
        kind: str,
        vm: Vm,
        message: str,
        node: str | None,
        level: str = "info",
    ) -> Ops:
        return event_ops(
            self.store, now=now, kind=kind, rid=vm.id, message=message, node=node, level=level
        )

    async def _balance(self, now: float, policy: SchedulerPolicy, report: SchedulerReport) -> None:
        state = self.reader.read(self.store)
        ok, why = eligible_hosts(state, now, self.lease_ttl)
        placer = Placer(state, policy, ok, why)
        spread = imbalance(placer)
        moves = recommend(state, placer, now)
        report.recommendations = moves
        if policy.drs_mode == "auto":
            report.migrations_started = await self.start_moves(state, moves, now)
            return
        await self._publish(state, moves, spread, now)

    async def start_moves(self, state: ClusterState, moves: Sequence[Move], now: float) -> int:
        """Commit migration intents for ``moves`` (CAS on each VM record)."""
        items: list[Ops] = []
        for m in moves:
            vm = state.vms[m.vm]
            text = f"{m.kind} migration of {vm.title} from {m.source} to {m.target} ({m.reason})"
            items.append(
                [
                    put("vms", m.vm, records.moving(vm, m, now), vm.version),
                    *self._event(now, "vm.migration_requested", vm, text, m.source),
                ]
            )
        return await commit_each(self.store, items, batch=1)

    async def _publish(
        self, state: ClusterState, moves: Sequence[Move], spread: float, now: float
    ) -> None:
        """Manual mode: keep the current recommendations in ``meta/drs`` for the UI."""
        recs = [m.to_value() for m in moves]
        cur = self.store.get("meta", "drs")
        if cur is not None and cur.value.get("recommendations") == recs:
            return
        value = {"recommendations": recs, "imbalance": round(spread, 4), "at": now}
        try:
            await self.store.commit(
                [put("meta", "drs", value, cur.version if cur is not None else "absent")]
            )
        except Conflict:
            log.debug("meta/drs changed under us; next pass rewrites it")
