"""Migrations asked for through the API (``migrate`` tasks). Pure.

The API records a pending task ``{"kind": "migrate", "resource": "vms/<id>",
"params": {"target": <node or null>, "live": bool}}``; the leader turns it into a
migration intent on the VM (same rules as any placement: an explicit target must
pass every filter), or fails the task with the reason. A VM already moving keeps
its task pending until that move is over.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from peer.scheduler.balance import Move
from peer.scheduler.model import ClusterState
from peer.scheduler.placement import Placer
from raft.commands import Record


@dataclass(frozen=True)
class MigrateTask:
    id: str
    version: int
    vm: str
    target: str | None
    live: bool
    user: str | None
    params: dict[str, Any]
    value: dict[str, Any]

    @classmethod
    def parse(cls, r: Record) -> MigrateTask | None:
        v = r.value
        res = v.get("resource")
        if v.get("kind") != "migrate" or v.get("state") != "pending" or v.get("cancel") is True:
            return None
        if not isinstance(res, str) or not res.startswith("vms/"):
            return None
        raw = v.get("params")
        params: dict[str, Any] = raw if isinstance(raw, dict) else {}
        target = params.get("target")
        user = v.get("user")
        return cls(
            r.key,
            r.version,
            res.removeprefix("vms/"),
            target if isinstance(target, str) and target else None,
            params.get("live", True) is not False,
            user if isinstance(user, str) else None,
            params,
            v,
        )


def pending_migrations(records: Iterable[Record]) -> list[MigrateTask]:
    return sorted((t for r in records if (t := MigrateTask.parse(r))), key=lambda t: t.id)


@dataclass
class RequestPlan:
    moves: list[tuple[MigrateTask, Move]] = field(default_factory=list)
    failed: list[tuple[MigrateTask, str]] = field(default_factory=list)


def plan_requested(
    state: ClusterState, placer: Placer, tasks: Iterable[MigrateTask], alive: Iterable[str]
) -> RequestPlan:
    """Targets for the API's migrate tasks; ``placer`` is updated with them."""
    alive = set(alive)
    plan = RequestPlan()
    for t in tasks:
        vm = state.vms.get(t.vm)
        if vm is None:
            plan.failed.append((t, "the VM no longer exists"))
            continue
        if vm.migration is not None:
            continue  # one move at a time: the task waits for the current one
        source = vm.placement
        if source is None or source not in alive:
            plan.failed.append((t, f"{vm.title} has no live host to move from"))
            continue
        if t.target == source:
            plan.failed.append((t, f"{vm.title} already runs on {source}"))
            continue
        if t.target is not None:
            i = placer.index.get(t.target)
            if i is None or i not in placer.eligible or not placer.fits(vm, i):
                only = Placer(state, placer.policy, [t.target] if i in placer.eligible else [])
                only.ineligible = {k: v for k, v in placer.ineligible.items() if k == t.target}
                why = only.why_not(vm).removeprefix(f"cannot place {vm.title}: ")
                plan.failed.append((t, f"{t.target} cannot take {vm.title}: {why}"))
                continue
            target = t.target
        else:
            chosen = placer.choose(vm, exclude=frozenset({source}))
            if chosen is None:
                why = placer.why_not(vm).removeprefix(f"cannot place {vm.title}: ")
                plan.failed.append((t, f"no other host can take {vm.title}: {why}"))
                continue
            target = chosen
        live = t.live and state.running_on(vm) == source
        placer.assign(vm, target, keep_source=True)
        reason = f"requested by {t.user}" if t.user else "requested"
        plan.moves.append((t, Move(vm.id, source, target, "live" if live else "cold", reason)))
    return plan
