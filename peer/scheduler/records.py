"""New values of a VM record for each kind of leader decision. Pure.

Every change of ``placement`` bumps ``placement_epoch``: the pair (placement,
epoch) names one incarnation of the VM, and a peer holding a copy with an older
epoch knows it is stale (docs/ha.md, "The epoch rule").
"""

from __future__ import annotations

from peer.scheduler.balance import Move
from peer.scheduler.model import Vm
from raft.commands import Value


def _base(vm: Vm) -> Value:
    return dict(vm.raw)


def placed(vm: Vm, host: str) -> Value:
    v = _base(vm)
    v.update(placement=host, placement_epoch=vm.epoch + 1, placement_error=None)
    v.pop("adopt_epoch", None)  # only ever valid for the placement that set it
    return v


def with_error(vm: Vm, message: str | None) -> Value:
    v = _base(vm)
    v["placement_error"] = message
    return v


def moving(vm: Vm, move: Move, now: float, task: str | None = None) -> Value:
    """Placement goes to the target at once, with an intent telling both
    reconcilers how to hand the VM over (docs/ha.md, "Migration intents")."""
    v = placed(vm, move.target)
    v["migration"] = {
        "kind": move.kind,
        "source": move.source,
        "target": move.target,
        "source_epoch": vm.epoch,
        "reason": move.reason,
        "started_at": now,
        "task": task,  # the API's migrate task this fulfils, if any
    }
    return v


def migration_done(vm: Vm) -> Value:
    v = _base(vm)
    v["migration"] = None
    return v


def reverted(vm: Vm, source: str, now: float, failed: bool = True) -> Value:
    """Back to the migration's source, which may still run the guest: its domain
    (of the source epoch) may be adopted rather than restarted (``adopt_epoch``)."""
    v = placed(vm, source)
    src_epoch = vm.migration.get("source_epoch") if vm.migration else None
    if isinstance(src_epoch, int):
        v["adopt_epoch"] = src_epoch
    v["migration"] = None
    if failed:
        v["migration_failed_at"] = now
    return v


def restarted(vm: Vm, host: str, now: float) -> Value:
    """An HA restart: new host and epoch, the restart recorded in the history
    (entries older than the policy's window are dropped, they no longer count)."""
    v = placed(vm, host)
    v["migration"] = None
    recent = [t for t in vm.ha_restarts if t > now - vm.ha.window_s]
    v["ha_restarts"] = [*recent, now]
    return v
