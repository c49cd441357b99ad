"""Admission control: can the cluster survive the loss of its largest host? Pure.

"Largest" is the available host with the most memory (then CPUs, then id): the
one whose loss strands the most. The check re-places that host's running HA VMs
on the others with the real placement rules, so it also accounts for labels,
storage and group rules, not only for raw capacity. The answer is a warning,
never a refusal: the leader publishes it as a cluster health field and an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peer.ha.recovery import recovery_order
from peer.scheduler.model import ClusterState
from peer.scheduler.placement import Placer
from peer.scheduler.policy import SchedulerPolicy


@dataclass(frozen=True)
class Admission:
    ok: bool
    message: str
    largest_host: str | None
    stranded: int  # HA VMs that could not be restarted if that host failed

    def to_value(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "message": self.message,
            "largest_host": self.largest_host,
            "stranded": self.stranded,
        }


def check_admission(
    state: ClusterState, policy: SchedulerPolicy, available: Sequence[str]
) -> Admission:
    """Whether every running HA VM of the largest available host fits elsewhere."""
    hosts = sorted(h for h in available if h in state.nodes)
    protected = [v for v in state.vms.values() if v.ha.enabled and v.wants_to_run]
    if not hosts:
        return Admission(not protected, "no host is available", None, len(protected))
    largest = min(hosts, key=lambda h: (-state.nodes[h].memory_mib, -state.nodes[h].cpus, h))
    victims = sorted((v for v in protected if v.placement == largest), key=recovery_order)
    placer = Placer(state, policy, [h for h in hosts if h != largest])
    stranded: list[str] = []
    first_reason = ""
    for vm in victims:
        placer.release(vm)
        host, why = placer.place(vm)
        if host is None:
            stranded.append(vm.title)
            first_reason = first_reason or why
    if not stranded:
        return Admission(
            True,
            f"every HA VM can be restarted if the largest host {largest} fails",
            largest,
            0,
        )
    return Admission(
        False,
        f"if the largest host {largest} fails, {len(stranded)} of its {len(victims)} HA VMs "
        f"cannot be restarted elsewhere (first: {first_reason})",
        largest,
        len(stranded),
    )
