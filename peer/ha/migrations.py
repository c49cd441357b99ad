"""Which migration intents are finished or failed, from the reconcilers' reports. Pure.

A migration is finished when the target reports the VM at the current epoch in
a settled state; it failed when the source reports ``migration_error`` for the
epoch it held. The leader then clears the intent, or sends the VM back to the
source (which still has the guest). See docs/ha.md, "Migration intents".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peer.scheduler.model import ClusterState

SETTLED = frozenset({"running", "stopped", "paused"})


@dataclass
class MigrationOutcomes:
    finished: list[str] = field(default_factory=list)
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)  # vm -> (source, error)


def migration_outcomes(state: ClusterState) -> MigrationOutcomes:
    out = MigrationOutcomes()
    for vm in sorted(state.vms.values(), key=lambda v: v.id):
        if vm.migration is None:
            continue
        st = state.status.get(vm.id)
        if st is None:
            continue
        source = vm.migration.get("source")
        source_epoch = vm.migration.get("source_epoch")
        if st.node == vm.placement and st.epoch == vm.epoch and st.state in SETTLED:
            out.finished.append(vm.id)
        elif (
            isinstance(source, str)
            and st.node == source
            and st.epoch == source_epoch
            and st.migration_error is not None
        ):
            out.failed[vm.id] = (source, st.migration_error)
    return out
