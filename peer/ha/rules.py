"""The epoch rule and the migration hand-over, as pure functions a reconciler calls.

The leader decides where a VM runs; these say what one peer may do about it with
what it has locally, so the "never on two hosts" rule is written down once
(docs/ha.md, "The epoch rule" and "Migration intents"). Inputs are the plain
record values (``vms/<id>`` and ``vm_status/<id>``) and the epoch stored in the
local domain's metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class CopyVerdict(StrEnum):
    KEEP = "keep"  # placed here at this epoch
    ADOPT = "adopt"  # placed here at ``adopt_epoch`` (a reverted migration): record the new epoch
    RESTART = "restart"  # placed here, older epoch: force it off first, then converge
    HAND_OVER = "hand_over"  # live migration source: keep it until it has moved
    DESTROY = "destroy"  # placed elsewhere, or the VM is gone: stale copy


def _migration(vm: Mapping[str, Any]) -> Mapping[str, Any] | None:
    m = vm.get("migration")
    return m if isinstance(m, Mapping) else None


def local_copy_verdict(
    vm: Mapping[str, Any] | None, me: str, domain_epoch: int | None
) -> CopyVerdict:
    """What peer ``me`` must do with a local domain of this VM (``vm`` is the
    ``vms`` record value, None if the VM no longer exists)."""
    if vm is None:
        return CopyVerdict.DESTROY
    epoch = vm.get("placement_epoch", 0)
    if vm.get("placement") == me:
        if domain_epoch == epoch:
            return CopyVerdict.KEEP
        if domain_epoch is not None and domain_epoch == vm.get("adopt_epoch"):
            return CopyVerdict.ADOPT
        # A copy from an older placement here means something went wrong in between
        # (this host was fenced, or a copy survived one): never let it run on.
        return CopyVerdict.RESTART
    mig = _migration(vm)
    if (
        mig is not None
        and mig.get("kind") == "live"
        and mig.get("source") == me
        and domain_epoch == mig.get("source_epoch")
    ):
        return CopyVerdict.HAND_OVER
    return CopyVerdict.DESTROY


def may_start(
    vm: Mapping[str, Any], status: Mapping[str, Any] | None, me: str, fenced: bool
) -> tuple[bool, str]:
    """Whether peer ``me`` may define and start its own copy of this VM now.

    ``status`` is the ``vm_status`` record value (None if none). The answer's
    text says why not, for the logs."""
    if fenced:
        return False, "this host is fenced"
    if vm.get("placement") != me:
        return False, "placed on another host"
    if vm.get("desired") not in ("running", "paused"):
        return False, f"desired state is {vm.get('desired')}"
    mig = _migration(vm)
    if mig is None:
        return True, ""
    source = mig.get("source")
    st = status or {}
    if (
        st.get("node") == me
        and st.get("epoch") == vm.get("placement_epoch")
        and st.get("state") != "migrating"  # only our offer to receive it live
    ):
        return True, ""  # it has arrived (or was started here) for this epoch
    if (
        st.get("node") == source
        and st.get("epoch") == mig.get("source_epoch")
        and st.get("state") == "stopped"
    ):
        return True, ""  # the source says its copy is stopped: nothing runs there
    # Any other report may be older than the source's copy, so it proves nothing.
    if mig.get("kind") == "live":
        return False, f"waiting for the live migration from {source}"
    return False, f"waiting for {source} to stop its copy"


def fence_victims(vms: Mapping[str, Mapping[str, Any]], me: str) -> set[str]:
    """The VMs whose guests peer ``me`` must stop when it fences itself: all of
    them — placed here, or being migrated away from here. ``vms``: id -> record.

    Not only the HA-enabled ones: a fenced host's replica may be stale, so a VM
    whose HA was switched on (or whose move was decided) while the host was cut
    off would otherwise keep running here when the leader starts it elsewhere.
    It is also what the watchdog's reset does to a real host."""
    out: set[str] = set()
    for vm_id, vm in vms.items():
        mig = _migration(vm)
        if vm.get("placement") == me or (mig is not None and mig.get("source") == me):
            out.add(vm_id)
    return out
