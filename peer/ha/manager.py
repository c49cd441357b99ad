"""The leader loop: HA restarts, migration bookkeeping, maintenance, scheduling,
admission control. Runs on every peer; acts only while ``store.is_leader``.

Each pass starts with a fresh commit of the leader's own lease; its timestamp is
the committed "now" every decision of the pass is judged by, and a leader that
cannot make that commit (cut off from the majority) does nothing at all. Every
decision is then a compare-and-set commit on the records it was derived from —
an HA restart also checks that the dead host's lease is still the version judged
expired — so a pass is idempotent: a new leader finishing a recovery a dead leader
left half-done simply finds the remaining VMs still stranded and moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peer.ha.admission import Admission, check_admission
from peer.ha.fencing import LeaseObserver, dead_nodes, default_margin
from peer.ha.lease import lease_value
from peer.ha.maintenance import draining_hosts, plan_evacuation
from peer.ha.migrations import migration_outcomes
from peer.ha.recovery import RecoveryPlan
from peer.ha.recovery import plan_recovery as _plan_recovery
from peer.ha.requested import pending_migrations, plan_requested
from peer.scheduler import records
from peer.scheduler.events import event_ops
from peer.scheduler.loop import Ops, SchedulerLoop, commit_each
from peer.scheduler.model import ClusterState, Lease, StateReader, Vm
from peer.scheduler.placement import Placer, eligible_hosts
from peer.scheduler.policy import SchedulerPolicy
from raft.commands import Change
from raft.errors import Conflict, StoreError
from raft.store import Store, check, put

log = logging.getLogger(__name__)

# Tables whose changes wake the loop early (the timer covers the rest).
WATCHED = ("nodes", "leases", "vms", "vm_status", "groups", "pools")


@dataclass
class PassReport:
    """What one pass decided and committed (for tests, logs and the bench)."""

    now: float
    dead: list[str] = field(default_factory=list)
    restarted: dict[str, str] = field(default_factory=dict)  # vm -> new host
    refused: dict[str, str] = field(default_factory=dict)
    migrations_started: int = 0
    migrations_finished: int = 0
    admission: Admission | None = None


class HAManager:
    """Construct on every peer and ``await run()``; ``step()`` is one pass."""

    def __init__(
        self,
        store: Store,
        node_id: str,
        *,
        fence_after: float,
        heartbeat: float,
        margin: float | None = None,
        policy: SchedulerPolicy | None = None,
        scheduler: SchedulerLoop | None = None,
        batch: int = 50,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self.fence_after = fence_after
        self.heartbeat = heartbeat
        self.margin = default_margin(heartbeat) if margin is None else margin
        self.policy = policy or SchedulerPolicy()
        self.reader = StateReader()
        self.scheduler = scheduler or SchedulerLoop(
            store, node_id, policy=self.policy, lease_ttl=fence_after, reader=self.reader
        )
        self.batch = batch
        self.wall = wall
        self.mono = mono
        self.observer = LeaseObserver()
        self.admission_every = 5 * heartbeat
        self._admission_at = float("-inf")
        self._admission: Admission | None = None
        self._stop = asyncio.Event()
        # The last fresh commit: (committed now, local monotonic time it was made).
        self._fresh: tuple[float, float] | None = None
        # The hosts the last full pass judged dead: a quick pass judges none, and
        # reports these, so ``meta/ha`` (and its node.fenced events) do not flap.
        self._dead: list[str] = []

    @classmethod
    def from_context(cls, ctx: Any, **kw: Any) -> HAManager:
        """From the daemon's ``PeerContext`` (fence_after and heartbeat from node.yaml)."""
        cfg = ctx.config
        return cls(
            ctx.store, ctx.node_id, fence_after=cfg.fence_after, heartbeat=cfg.heartbeat, **kw
        )

    # -- one pass -----------------------------------------------------------
    def hosts(self) -> set[str]:
        """Every host the cluster knows of: node records, leases, and hosts named
        by a placement (a host whose records were deleted can still hold VMs)."""
        named = {r.value.get("placement") for r in self.store.scan("vms")}
        return (
            {r.key for r in self.store.scan("nodes")}
            | {r.key for r in self.store.scan("leases")}
            | {h for h in named if isinstance(h, str) and h}
        )

    def observe(self) -> set[str]:
        """Note lease versions on the local monotonic clock (followers do it too)."""
        hosts = self.hosts()
        self.observer.observe(hosts, read_leases(self.store), self.mono())
        return hosts

    def silent_hosts(self) -> set[str]:
        """Hosts whose lease this peer has seen unchanged for longer than
        ``fence_after``: each has fenced itself by now (or this peer is the one cut
        off), so nothing it last reported can be taken as still true."""
        return self.observer.silent(self.mono(), self.fence_after)

    async def fresh_now(self) -> float:
        """Commit this leader's lease renewal; its committed timestamp is "now"."""
        ts = self.wall()
        await self.store.commit(
            [put("leases", self.node_id, lease_value(ts))], timeout=self.heartbeat * 2
        )
        return ts

    async def step(self) -> PassReport | None:
        """One pass; None when not the leader or when the fresh commit failed."""
        if not self.store.is_leader:
            self.observe()
            self._fresh = None
            self._dead = []
            return None
        mono = self.mono()
        # A pass woken by a change soon after a fresh commit reuses that committed
        # time for placing and moving, but judges no lease (that needs a fresh one).
        quick = self._fresh is not None and mono - self._fresh[1] < self.heartbeat / 2
        if quick and self._fresh is not None:
            now = self._fresh[0]
        else:
            try:
                now = await self.fresh_now()
            except StoreError as e:
                log.warning("leader cannot commit (%s): taking no action this pass", e)
                return None
            mono = self.mono()
            self._fresh = (now, mono)
        hosts = self.observe()  # after the fresh commit: the replica is up to date
        report = PassReport(now=now)
        state = self.reader.read(self.store)
        policy = self.policy.merged(state.settings)
        dead = (
            {}
            if quick
            else dead_nodes(
                hosts,
                state.leases,
                self.observer,
                committed_now=now,
                mono_now=mono,
                fence_after=self.fence_after,
                margin=self.margin,
                me=self.node_id,
            )
        )
        if not quick:
            self._dead = sorted(dead)
        report.dead = list(self._dead)
        alive = self._alive(state, now)
        ok, why = eligible_hosts(state, now, self.fence_after)
        plan = _plan_recovery(state, Placer(state, policy, ok, why), dead, alive, now)
        await self._commit_recovery(state, plan, now, report)

        state = self.reader.read(self.store)
        report.migrations_finished = await self._settle_migrations(state, now)

        report.migrations_started = await self._start_requested(policy, ok, why, alive, now)

        state = self.reader.read(self.store)
        evac = plan_evacuation(
            state, Placer(state, policy, ok, why), draining_hosts(state, alive), now
        )
        report.migrations_started += await self.scheduler.start_moves(state, evac.moves, now)
        await self._record_errors(state, evac.blocked, now, "vm.evacuation_blocked")

        sched = await self.scheduler.step(now)
        report.migrations_started += sched.migrations_started

        if mono - self._admission_at >= self.admission_every:
            state = self.reader.read(self.store)
            self._admission = check_admission(state, policy, ok)
            self._admission_at = mono
        report.admission = self._admission
        await self._clear_stale_errors(self.reader.read(self.store), alive)
        await self._publish_health(report, evac.drained, now)
        return report

    def _alive(self, state: ClusterState, now: float) -> set[str]:
        """Hosts with a live lease, whatever their state (a host in maintenance is
        alive and can hand its VMs over)."""
        return {
            h
            for h, lease in state.leases.items()
            if not lease.fenced and now - lease.renewed_at < self.fence_after
        }

    # -- commits ------------------------------------------------------------
    def _event(
        self, now: float, kind: str, rid: str, msg: str, node: str | None, level: str = "info"
    ) -> Ops:
        return event_ops(
            self.store, now=now, kind=kind, rid=rid, message=msg, node=node, level=level
        )

    async def _commit_recovery(
        self, state: ClusterState, plan: RecoveryPlan, now: float, report: PassReport
    ) -> None:
        items: list[Ops] = []
        for r in plan.restarts:
            vm = state.vms[r.vm]
            lease_expect: int | str = "absent" if r.lease_version is None else r.lease_version
            if r.kind == "revert":
                value = records.reverted(vm, r.target, now, failed=False)
                msg = f"{vm.title} returned to {r.target}: migration target {r.source} failed"
            elif r.kind == "adopt":
                value = records.migration_done(vm)
                msg = f"{r.target} starts {vm.title} afresh: migration source {r.source} failed"
            else:
                value = records.restarted(vm, r.target, now)
                msg = f"HA restarted {vm.title} on {r.target}: host {r.source} failed"
            items.append(
                [
                    # Only if the dead host has not renewed since it was judged dead.
                    check("leases", r.source, lease_expect),
                    put("vms", vm.id, value, vm.version),
                    *self._event(now, "vm.ha_restart", vm.id, msg, r.target, "warning"),
                ]
            )
            if r.kind != "restart" and (task := self._task_ops(vm, now, state="failed", error=msg)):
                items.append(task)
        await commit_each(self.store, items, self.batch)
        for r in plan.restarts:  # report what actually committed
            rec = self.store.get("vms", r.vm)
            if rec is not None and rec.version == state.vms[r.vm].version + 1:
                report.restarted[r.vm] = r.target
        report.refused = dict(plan.refused)
        await self._record_errors(state, plan.refused, now, "vm.ha_refused", "error")

    async def _record_errors(
        self,
        state: ClusterState,
        errors: dict[str, str],
        now: float,
        kind: str,
        level: str = "warning",
    ) -> None:
        items: list[Ops] = []
        for vm_id, msg in errors.items():
            vm: Vm = state.vms[vm_id]
            if vm.placement_error == msg:
                continue  # already said; saying it every pass would flood the log
            items.append(
                [
                    put("vms", vm_id, records.with_error(vm, msg), vm.version),
                    *self._event(now, kind, vm_id, msg, vm.placement, level),
                ]
            )
        await commit_each(self.store, items, self.batch)

    def _task_ops(self, vm: Vm, now: float, **changes: Any) -> Ops:
        """Move the API task behind ``vm``'s migration along (if it has one)."""
        tid = vm.migration.get("task") if vm.migration else None
        rec = self.store.get("tasks", tid) if isinstance(tid, str) else None
        if rec is None or rec.value.get("state") in ("done", "failed", "cancelled"):
            return []
        value = {**rec.value, **changes, "updated_at": now}
        return [put("tasks", rec.key, value, rec.version)]

    async def _start_requested(
        self,
        policy: SchedulerPolicy,
        ok: list[str],
        why: dict[str, str],
        alive: set[str],
        now: float,
    ) -> int:
        """Turn the API's pending migrate tasks into migration intents (or fail them)."""
        tasks = pending_migrations(self.store.scan("tasks"))
        if not tasks:
            return 0
        state = self.reader.read(self.store)
        plan = plan_requested(state, Placer(state, policy, ok, why), tasks, alive)
        items: list[Ops] = []
        for t, m in plan.moves:
            vm = state.vms[m.vm]
            params = {**t.params, "target": m.target}
            task = {**t.value, "state": "running", "node": m.source, "params": params}
            text = f"{m.kind} migration of {vm.title} from {m.source} to {m.target} ({m.reason})"
            items.append(
                [
                    put("vms", vm.id, records.moving(vm, m, now, task=t.id), vm.version),
                    put("tasks", t.id, {**task, "updated_at": now}, t.version),
                    *self._event(now, "vm.migration_requested", vm.id, text, m.source),
                ]
            )
        for t, err in plan.failed:
            task = {**t.value, "state": "failed", "error": err, "updated_at": now}
            items.append(
                [
                    put("tasks", t.id, task, t.version),
                    *self._event(now, "vm.migration_refused", t.vm, err, None, "warning"),
                ]
            )
        await commit_each(self.store, items, self.batch)
        return len(plan.moves)

    async def _clear_stale_errors(self, state: ClusterState, alive: set[str]) -> None:
        """A VM settled on a live, active host has nothing left to complain about
        (its host came back, maintenance was called off, ...)."""
        items = [
            [put("vms", vm.id, records.with_error(vm, None), vm.version)]
            for vm in state.vms.values()
            if vm.placement_error is not None
            and vm.migration is None
            and vm.placement in alive
            and vm.placement in state.nodes
            and state.nodes[vm.placement].state == "active"
        ]
        await commit_each(self.store, items, self.batch)

    async def _settle_migrations(self, state: ClusterState, now: float) -> int:
        out = migration_outcomes(state)
        items: list[Ops] = []
        for vm_id in out.finished:
            vm = state.vms[vm_id]
            if task := self._task_ops(vm, now, state="done", progress=1.0):
                items.append(task)  # its own commit: a progress update must not block this
            items.append(
                [
                    put("vms", vm_id, records.migration_done(vm), vm.version),
                    *self._event(
                        now,
                        "vm.migrated",
                        vm_id,
                        f"{vm.title} now runs on {vm.placement}",
                        vm.placement,
                    ),
                ]
            )
        for vm_id, (source, err) in out.failed.items():
            vm = state.vms[vm_id]
            msg = f"migration of {vm.title} to {vm.placement} failed ({err}); it stays on {source}"
            if task := self._task_ops(vm, now, state="failed", error=msg):
                items.append(task)
            items.append(
                [
                    put("vms", vm_id, records.reverted(vm, source, now), vm.version),
                    *self._event(now, "vm.migration_failed", vm_id, msg, source, "error"),
                ]
            )
        await commit_each(self.store, items, self.batch)
        return len(out.finished)

    async def _publish_health(self, report: PassReport, drained: Sequence[str], now: float) -> None:
        """``meta/ha``: the cluster's HA health for the API and UI, with an event
        whenever a part of it changes."""
        adm = report.admission
        health: dict[str, Any] = {
            "dead": report.dead,
            "drained": sorted(drained),
            "admission": adm.to_value() if adm is not None else None,
            "fence_after": self.fence_after,
            "margin": self.margin,
        }
        cur = self.store.get("meta", "ha")
        old = dict(cur.value) if cur is not None else {}
        old.pop("updated_at", None)
        if old == health:
            return
        expect = cur.version if cur is not None else "absent"
        ops: Ops = [put("meta", "ha", {**health, "updated_at": now}, expect)]
        for node in sorted(set(report.dead) - set(old.get("dead") or [])):
            ops += self._event(
                now,
                "node.fenced",
                node,
                f"{node} stopped renewing its lease; treated as fenced",
                node,
                "error",
            )
        for node in sorted(set(drained) - set(old.get("drained") or [])):
            ops += self._event(
                now, "node.drained", node, f"{node} has no VMs left: ready for maintenance", node
            )
        old_ok = (old.get("admission") or {}).get("ok")
        if adm is not None and adm.ok != old_ok:
            ops += self._event(
                now,
                "cluster.admission",
                "cluster",
                adm.message,
                None,
                "info" if adm.ok else "warning",
            )
        with contextlib.suppress(Conflict):
            await self.store.commit(ops)

    # -- the loop -----------------------------------------------------------
    async def run(self) -> None:
        """Pass on every relevant change and at least every ``heartbeat``."""
        watch = self.store.watch(list(WATCHED), accept=_wakes_manager(self.node_id))
        try:
            while not self._stop.is_set():
                try:
                    await self.step()
                except StoreError as e:
                    log.warning("leader pass stopped early: %s", e)
                except Exception:
                    log.exception("leader pass failed")
                deadline = self.mono() + self.heartbeat
                await watch.next(max(0.0, deadline - self.mono()))
                while not watch.queue.empty():  # one pass covers everything queued
                    watch.queue.get_nowait()
                # Let a burst of changes (an API batch) settle into one pass.
                await asyncio.sleep(min(0.05, self.heartbeat / 10))
        finally:
            watch.close()

    def stop(self) -> None:
        self._stop.set()


def _wakes_manager(node_id: str) -> Callable[[Change], bool]:
    """The watch filter of the manager's loop (runs on the store's apply thread).

    Renewals come every heartbeat from every peer and mean only "still alive"; the
    timer covers silence. A lease change wakes the pass only when a lease is new,
    gone or (un)fenced, so renewals never wake the event loop."""
    fenced: dict[str, bool] = {}

    def accept(change: Change) -> bool:
        if change.table != "leases":
            return True
        flag = bool(change.value and change.value.get("fenced"))
        if change.key != node_id and fenced.get(change.key) != flag:
            fenced[change.key] = flag
            return True
        return False

    return accept


def read_leases(store: Store) -> dict[str, Lease]:
    return {r.key: Lease.parse(r.key, r.version, r.value) for r in store.scan("leases")}
