"""Maintenance mode: the evacuation plan for hosts marked ``maintenance``. Pure.

Every VM placed on a draining host moves to the host the placement rules choose
(the draining host itself is never a candidate: it is not ``active``). A guest
that is running there moves *live*; anything else (stopped, paused, failed) moves
*cold*. At most ``max_migrations_per_host`` moves leave a host at a time; the
rest wait for the next pass. A VM no host can take stays, with the reason, and
keeps its host from being reported drained. Only hosts with a live lease are
drained this way: a dead host's VMs are HA's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from peer.ha.recovery import recovery_order
from peer.scheduler.balance import MIGRATION_RETRY_S, Move, in_flight_by_source, recently_failed
from peer.scheduler.model import ClusterState
from peer.scheduler.placement import Placer


@dataclass
class EvacuationPlan:
    moves: list[Move] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)  # VM id -> why it cannot move
    drained: list[str] = field(default_factory=list)  # hosts with nothing left on them


def draining_hosts(state: ClusterState, alive: Iterable[str]) -> list[str]:
    alive = set(alive)
    # A removed host that is still up is emptied the same way.
    return sorted(
        h for h, n in state.nodes.items() if n.state in ("maintenance", "removed") and h in alive
    )


def plan_evacuation(
    state: ClusterState, placer: Placer, draining: Iterable[str], now: float | None = None
) -> EvacuationPlan:
    """Moves off each draining host; ``placer`` is updated with them. ``now``
    (committed time) holds back VMs whose last migration failed recently."""
    plan = EvacuationPlan()
    busy = in_flight_by_source(state)
    limit = placer.policy.max_migrations_per_host
    for node in sorted(draining):
        staying = sorted(
            (v for v in state.vms.values() if v.placement == node and v.migration is None),
            key=recovery_order,
        )
        if not staying and busy.get(node, 0) == 0:
            plan.drained.append(node)
            continue
        slots = limit - busy.get(node, 0)
        for vm in staying:
            if slots <= 0:
                break
            if recently_failed(vm, now):
                plan.blocked[vm.id] = (
                    f"{vm.title} cannot leave {node} for maintenance: its last migration failed;"
                    f" trying again {MIGRATION_RETRY_S / 60:g} minutes after that"
                )
                continue
            target = placer.choose(vm)
            if target is None:
                why = placer.why_not(vm).removeprefix(f"cannot place {vm.title}: ")
                plan.blocked[vm.id] = f"{vm.title} cannot leave {node} for maintenance: {why}"
                continue
            kind = "live" if state.running_on(vm) == node else "cold"
            # A live-migrating guest uses its source until the move completes.
            placer.assign(vm, target, keep_source=True)
            plan.moves.append(Move(vm.id, node, target, kind, f"{node} is entering maintenance"))
            slots -= 1
    return plan
