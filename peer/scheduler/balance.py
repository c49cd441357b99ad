"""Balancing (DRS): recommend live migrations when hosts are unevenly loaded. Pure.

A host's load is the larger of its memory and vCPU shares (booked / capacity).
When the most and least loaded available hosts differ by more than the policy's
threshold, move the running VM off the most loaded host that best evens the pair
out, to the least loaded host that can take it; repeat a few times on the
simulated result. Only running VMs without a migration in flight are moved, and
only live (a balancing move must never interrupt a guest).
"""

from __future__ import annotations

from dataclasses import dataclass

from peer.scheduler.model import ClusterState, Vm
from peer.scheduler.placement import Placer

_EPS = 1e-9
# After a failed migration the VM is left alone this long (committed seconds), so a
# move that cannot succeed is not retried every pass.
MIGRATION_RETRY_S = 300.0


def recently_failed(vm: Vm, now: float | None) -> bool:
    at = vm.migration_failed_at
    return now is not None and at is not None and now - at < MIGRATION_RETRY_S


@dataclass(frozen=True)
class Move:
    """Move ``vm`` from ``source`` to ``target``; ``kind`` is "live" or "cold"."""

    vm: str
    source: str
    target: str
    kind: str
    reason: str

    def to_value(self) -> dict[str, str]:
        return {
            "vm": self.vm,
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "reason": self.reason,
        }


def in_flight_by_source(state: ClusterState) -> dict[str, int]:
    """Migrations not yet completed, counted per source host."""
    out: dict[str, int] = {}
    for vm in state.vms.values():
        src = vm.migration.get("source") if vm.migration else None
        if isinstance(src, str):
            out[src] = out.get(src, 0) + 1
    return out


def load(placer: Placer, i: int, d_cpu: float = 0.0, d_mem: float = 0.0) -> float:
    """Host ``i``'s load after adding (or removing, if negative) the given usage."""
    return max(
        (placer.used_m[i] + d_mem) / placer.cap_m[i], (placer.used_c[i] + d_cpu) / placer.cap_c[i]
    )


def imbalance(placer: Placer) -> float:
    """Most minus least loaded among available hosts with capacity (0 if fewer than 2)."""
    hosts = [i for i in placer.eligible if placer.cap_m[i] > 0 and placer.cap_c[i] > 0]
    if len(hosts) < 2:
        return 0.0
    loads = [load(placer, i) for i in hosts]
    return max(loads) - min(loads)


def recommend(state: ClusterState, placer: Placer, now: float | None = None) -> list[Move]:
    """Up to ``drs_max_moves`` live migrations that reduce the imbalance.

    ``placer`` is updated as if the moves were done (pass a fresh one)."""
    policy = placer.policy
    hosts = [i for i in placer.eligible if placer.cap_m[i] > 0 and placer.cap_c[i] > 0]
    if len(hosts) < 2:
        return []
    busy = in_flight_by_source(state)
    movable: dict[int, list[Vm]] = {i: [] for i in hosts}
    for vm in sorted(state.vms.values(), key=lambda v: v.id):
        if vm.placement is None or vm.migration is not None or vm.desired != "running":
            continue
        if recently_failed(vm, now):
            continue
        i = placer.index.get(vm.placement)
        if i in movable and state.running_on(vm) == vm.placement:
            movable[i].append(vm)
    moves: list[Move] = []
    for _ in range(policy.drs_max_moves):
        loads = {i: load(placer, i) for i in hosts}
        src = max(hosts, key=lambda i: (loads[i], -i))
        if loads[src] - min(loads.values()) <= policy.drs_threshold + _EPS:
            break
        if busy.get(placer.ids[src], 0) >= policy.max_migrations_per_host:
            break
        targets = sorted((i for i in hosts if i != src), key=lambda i: (loads[i], i))
        best: tuple[float, str, Vm, int] | None = None
        for vm in movable[src]:
            after_src = load(placer, src, -vm.vcpus, -vm.memory_mib)
            for dst in targets:
                if loads[dst] >= loads[src] or not placer.fits(vm, dst):
                    continue
                worst = max(after_src, load(placer, dst, vm.vcpus, vm.memory_mib))
                if worst < loads[src] - _EPS and (best is None or (worst, vm.id) < best[:2]):
                    best = (worst, vm.id, vm, dst)
                break  # the least loaded host that can take it
        if best is None:
            break
        _, _, vm, dst = best
        reason = (
            f"balance: {placer.ids[src]} is {loads[src]:.0%} loaded, "
            f"{placer.ids[dst]} {loads[dst]:.0%}"
        )
        moves.append(Move(vm.id, placer.ids[src], placer.ids[dst], "live", reason))
        placer.assign(vm, placer.ids[dst])
        movable[src].remove(vm)
        busy[placer.ids[src]] = busy.get(placer.ids[src], 0) + 1
    return moves
