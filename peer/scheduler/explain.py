"""Why a VM cannot be placed, said the way an operator would say it.

The filters are applied one at a time in the order a person thinks about them
(which hosts are up at all, labels, storage, group rules, memory, CPU); the
first filter that leaves no host names the problem, with figures taken from the
hosts that were still in the running ("no host has 64 GiB free memory: largest
free is 12 GiB on h2"). Only called for a VM that did not fit, so it may be slow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from peer.scheduler.model import Vm

if TYPE_CHECKING:
    from peer.scheduler.placement import Placer


def fmt_mib(mib: float) -> str:
    """512 -> "512 MiB", 12288 -> "12 GiB", 1536 -> "1.5 GiB"."""
    mib = max(0.0, mib)
    if mib < 1024:
        return f"{mib:.0f} MiB"
    gib = mib / 1024
    return f"{gib:.0f} GiB" if abs(gib - round(gib)) < 0.05 else f"{gib:.1f} GiB"


def fmt_cpu(n: float) -> str:
    n = max(0.0, n)
    return f"{n:.0f}" if abs(n - round(n)) < 0.05 else f"{n:.1f}"


def _names(ids: list[str], limit: int = 4) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


class Explainer:
    def __init__(self, placer: Placer, vm: Vm) -> None:
        self.p = placer
        self.vm = vm

    def explain(self) -> str:
        p, vm = self.p, self.vm
        head = f"cannot place {vm.title}: "
        if not p.eligible:
            reasons = sorted(p.ineligible.values())
            detail = "; ".join(reasons[:4]) if reasons else "the cluster has no hosts"
            return head + f"no host is available for VMs ({detail})"
        banned, allowed, groups = p.group_rules(vm)
        steps: list[tuple[Callable[[int], bool], Callable[[list[int]], str]]] = [
            (self._has_capacity, lambda _: "no available host reports CPUs and memory"),
            (self._labels_match, self._labels_msg),
            (
                lambda i: p.has_networking(vm, i),
                lambda _: (
                    "no available host runs VM networking (OVS/OVN: data_interface "
                    "in node.yaml) for its overlay or VLAN NICs"
                ),
            ),
            (lambda i: vm.pools <= p.visible[i], self._storage_msg),
            (lambda i: i not in banned, lambda r: self._group_msg("anti_affinity", r, groups)),
            (
                lambda i: allowed is None or i in allowed,
                lambda r: self._group_msg("affinity", sorted(allowed or ()), groups),
            ),
            (lambda i: p.used_m[i] + vm.memory_mib <= p.cap_m[i] + 1e-9, self._memory_msg),
            (lambda i: p.used_c[i] + vm.vcpus <= p.cap_c[i] + 1e-9, self._cpu_msg),
        ]
        remaining = list(p.eligible)
        for keep, message in steps:
            passing = [i for i in remaining if keep(i)]
            if not passing:
                return head + message(remaining) + self._not_considered()
            remaining = passing
        return head + "no host passes every rule" + self._not_considered()

    def _not_considered(self) -> str:
        if not self.p.ineligible:
            return ""
        return " (not considered: " + _names(sorted(self.p.ineligible.values()), 3) + ")"

    def _has_capacity(self, i: int) -> bool:
        return self.p.cap_m[i] > 0 and self.p.cap_c[i] > 0

    def _labels_match(self, i: int) -> bool:
        labels = self.p.state.nodes[self.p.ids[i]].labels
        return all(labels.get(k) == v for k, v in self.vm.node_selector.items())

    def _labels_msg(self, _: list[int]) -> str:
        want = ", ".join(f"{k}={v}" for k, v in sorted(self.vm.node_selector.items()))
        return f"no available host has the labels {want}"

    def _storage_msg(self, remaining: list[int]) -> str:
        p = self.p
        missing = sorted(self.vm.pools - frozenset.intersection(*(p.visible[i] for i in remaining)))
        parts = []
        for name in missing:
            seen = [p.ids[i] for i in range(len(p.ids)) if name in p.visible[i]]
            where = f"visible only on {_names(seen)}" if seen else "not visible on any host"
            parts.append(f"storage pool '{name}' is {where}")
        return "; ".join(parts) or "no available host sees all of its storage pools"

    def _group_msg(self, kind: str, remaining: list[int], groups: list[str]) -> str:
        names = [g for g in groups if self.p.state.groups[g].kind == kind]
        label = ", ".join(f"'{g}'" for g in names)
        hosts = _names([self.p.ids[i] for i in remaining])
        if kind == "anti_affinity":
            return f"anti-affinity group {label} already has a VM on every suitable host ({hosts})"
        return (
            f"affinity group {label} keeps its VMs on {hosts}, "
            "which this VM cannot use (labels or storage)"
        )

    def _memory_msg(self, remaining: list[int]) -> str:
        p = self.p
        best = max(remaining, key=lambda i: (p.cap_m[i] - p.used_m[i], -i))
        ratio = p.policy.memory_overcommit
        note = f" (memory overcommit {ratio:g}x)" if ratio != 1.0 else ""
        return (
            f"no host has {fmt_mib(self.vm.memory_mib)} free memory{note}: largest free is "
            f"{fmt_mib(p.cap_m[best] - p.used_m[best])} on {p.ids[best]}"
        )

    def _cpu_msg(self, remaining: list[int]) -> str:
        p = self.p
        best = max(remaining, key=lambda i: (p.cap_c[i] - p.used_c[i], -i))
        return (
            f"no host has {self.vm.vcpus} vCPUs free (CPU overcommit "
            f"{p.policy.cpu_overcommit:g}x): most free is {fmt_cpu(p.cap_c[best] - p.used_c[best])}"
            f" on {p.ids[best]}"
        )
