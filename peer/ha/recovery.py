"""What to do with the VMs of hosts judged fenced. Pure.

For each VM placed on a dead host:

- a migration was in flight *to* the dead host and its source is alive: send the
  VM back to the source (any VM, HA or not — the source still holds the guest or
  its disks, and only the dead target could have run it);
- HA enabled and meant to run: restart it elsewhere, highest ``priority`` first
  (when capacity is short the important VMs get it), unless it has already been
  restarted ``max_restarts`` times within ``window_s`` (committed time);
- otherwise it stays where it is: a VM without HA is never moved by the leader.

And for each VM being migrated *from* a dead host to a live one: the guest can no
longer arrive live, so the intent is dropped ("adopt") and the target starts it
from its disks — safe, because the source is fenced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from peer.ha.fencing import DeadNode
from peer.scheduler.model import ClusterState, Vm
from peer.scheduler.placement import Placer


@dataclass(frozen=True)
class Restart:
    vm: str
    source: str  # the dead host
    target: str
    lease_version: int | None  # the dead host's lease, as judged
    # restart: HA restart elsewhere; revert: back to the live source of a migration
    # whose target died; adopt: the target of a migration whose source died keeps it.
    kind: str = "restart"


@dataclass
class RecoveryPlan:
    restarts: list[Restart] = field(default_factory=list)
    # VM id -> why it was not restarted (HA VMs only), for the record and an event.
    refused: dict[str, str] = field(default_factory=dict)


def restarts_in_window(vm: Vm, now: float) -> int:
    return sum(1 for t in vm.ha_restarts if t > now - vm.ha.window_s)


def recovery_order(vm: Vm) -> tuple[int, str]:
    return (-vm.ha.priority, vm.id)


def plan_recovery(
    state: ClusterState,
    placer: Placer,
    dead: Mapping[str, DeadNode],
    alive: Iterable[str],
    now: float,
) -> RecoveryPlan:
    """Decide restarts for the VMs of ``dead`` hosts. ``alive``: hosts with a live
    lease (a migration source must be one to take its VM back). ``now`` is
    committed time. ``placer`` is updated with the decisions."""
    alive = set(alive)
    plan = RecoveryPlan()
    stranded = sorted((v for v in state.vms.values() if v.placement in dead), key=recovery_order)
    for vm in stranded:
        if vm.placement is None:  # filtered above; says so to the type checker
            continue
        lease_version = dead[vm.placement].lease_version
        source = vm.migration.get("source") if vm.migration else None
        if isinstance(source, str) and source in alive and source != vm.placement:
            placer.release(vm)
            placer.assign(vm, source)
            plan.restarts.append(Restart(vm.id, vm.placement, source, lease_version, "revert"))
            continue
        if not (vm.ha.enabled and vm.wants_to_run):
            continue
        done = restarts_in_window(vm, now)
        if done >= vm.ha.max_restarts:
            plan.refused[vm.id] = (
                f"HA will not restart {vm.title} again: restarted {done} times within "
                f"{vm.ha.window_s:g} s (limit {vm.ha.max_restarts})"
            )
            continue
        placer.release(vm)
        host, why = placer.place(vm)
        if host is None:
            why = why.removeprefix(f"cannot place {vm.title}: ")
            plan.refused[vm.id] = f"HA restart of {vm.title} is waiting: {why}"
            continue
        plan.restarts.append(Restart(vm.id, vm.placement, host, lease_version))
    for vm in sorted(state.vms.values(), key=recovery_order):
        source = vm.migration.get("source") if vm.migration else None
        if isinstance(source, str) and source in dead and vm.placement in alive:
            version = dead[source].lease_version
            plan.restarts.append(Restart(vm.id, source, vm.placement, version, "adopt"))
    return plan
