"""Placement: which host runs a VM. Pure: cluster state in, decisions out.

``Placer`` is a capacity ledger over the cluster's hosts plus the filters a host
must pass for a VM (state and lease, node selector, storage reachability,
affinity and anti-affinity, memory, vCPUs under the overcommit ratio), and a
score (spread or pack). Everything that moves VMs — first placement, HA
restarts, maintenance evacuation, balancing — asks the same ``Placer`` so the
rules cannot drift apart.

Determinism: hosts are scanned in id order and a tie keeps the first (lowest id);
VMs are placed in ``placement_order``. The same state gives the same decisions.

Accounting: every VM with a ``placement`` reserves its vCPUs and memory on that
host whatever its power state (a placement is a reservation, so starting a
stopped VM can never overcommit its host); a VM being migrated also still holds
its source until the move completes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from peer.scheduler.explain import Explainer
from peer.scheduler.model import BLOCKING_CONDITIONS, ClusterState, Group, Vm
from peer.scheduler.policy import SchedulerPolicy

_EPS = 1e-9


def eligible_hosts(
    state: ClusterState, now: float, lease_ttl: float
) -> tuple[list[str], dict[str, str]]:
    """Hosts that may receive VMs, and why each other host may not.

    A host qualifies when it is ``active``, reports no blocking condition
    (``BLOCKING_CONDITIONS``: it cannot run VMs, its disk is full), its lease
    was renewed (committed time) less than ``lease_ttl`` before ``now`` and it is
    not fenced.
    """
    ok: list[str] = []
    why: dict[str, str] = {}
    for hid in sorted(state.nodes):
        host = state.nodes[hid]
        lease = state.leases.get(hid)
        blocking = sorted(BLOCKING_CONDITIONS & set(host.conditions))
        if host.state != "active":
            why[hid] = f"{hid} is in {host.state}" if host.state else f"{hid} is not active"
        elif blocking:
            # The condition's name only: its message may carry figures that change.
            why[hid] = f"{hid} reports {', '.join(blocking)}"
        elif lease is None:
            why[hid] = f"{hid} has never renewed its lease"
        elif lease.fenced:
            why[hid] = f"{hid} is fenced"
        elif now - lease.renewed_at >= lease_ttl:
            # No figure in the text: it is stored in records and must not change every tick.
            why[hid] = f"{hid} has no live lease"
        else:
            ok.append(hid)
    return ok, why


def placement_order(vm: Vm) -> tuple[int, int, int, str]:
    """Higher HA priority first, then the largest VMs (first-fit decreasing packs
    better), then by id so the order is total."""
    return (-vm.ha.priority, -vm.memory_mib, -vm.vcpus, vm.id)


@dataclass
class PlacementResult:
    placed: dict[str, str] = field(default_factory=dict)  # vm id -> host id
    errors: dict[str, str] = field(default_factory=dict)  # vm id -> why not, for a person


class Placer:
    """Host capacity and constraints; ``choose`` a host, ``assign`` to book it."""

    def __init__(
        self,
        state: ClusterState,
        policy: SchedulerPolicy,
        eligible: Iterable[str],
        ineligible: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        self.policy = policy
        self.ids: list[str] = sorted(state.nodes)
        self.index = {h: i for i, h in enumerate(self.ids)}
        self.eligible: list[int] = sorted(self.index[h] for h in set(eligible) if h in self.index)
        self.ineligible = dict(ineligible or {})
        hosts = [state.nodes[h] for h in self.ids]
        self.cap_c = [h.cpus * policy.cpu_overcommit for h in hosts]
        self.cap_m = [h.memory_mib * policy.memory_overcommit for h in hosts]
        self.used_c = [0.0] * len(hosts)
        self.used_m = [0.0] * len(hosts)
        shared = {p.name for p in state.pools.values() if p.shared}
        self.visible: list[frozenset[str]] = [
            h.pools | shared | {p.name for p in state.pools.values() if h.id in p.nodes}
            for h in hosts
        ]
        self.groups_of: dict[str, list[Group]] = {}
        for g in sorted(state.groups.values(), key=lambda g: g.name):
            if g.kind in ("affinity", "anti_affinity"):
                for v in g.vms:
                    self.groups_of.setdefault(v, []).append(g)
        self.members_on: dict[str, dict[int, int]] = {g: {} for g in state.groups}
        # Where each VM is booked: usage hosts, and the host its groups count it on.
        self.booked: dict[str, list[int]] = {}
        self.group_host: dict[str, int] = {}
        self._static: dict[tuple[frozenset[str], tuple[tuple[str, str], ...], bool], list[int]] = {}
        for vm in state.vms.values():
            self._book_existing(vm)

    # -- the ledger ---------------------------------------------------------
    def _book_existing(self, vm: Vm) -> None:
        if vm.placement is None or vm.placement not in self.index:
            return
        self._add(vm, self.index[vm.placement])
        src = vm.migration.get("source") if vm.migration else None
        if isinstance(src, str) and src in self.index and src != vm.placement:
            self._add_usage(vm, self.index[src])

    def _add_usage(self, vm: Vm, i: int) -> None:
        self.used_c[i] += vm.vcpus
        self.used_m[i] += vm.memory_mib
        self.booked.setdefault(vm.id, []).append(i)

    def _add(self, vm: Vm, i: int) -> None:
        self._add_usage(vm, i)
        self.group_host[vm.id] = i
        for g in self.groups_of.get(vm.id, ()):
            on = self.members_on[g.name]
            on[i] = on.get(i, 0) + 1

    def release(self, vm: Vm, *, keep_usage: bool = False) -> None:
        """Forget the VM's bookings (or only its group membership: a live-migrating
        VM still uses its source host until the move completes)."""
        i = self.group_host.pop(vm.id, None)
        if i is not None:
            for g in self.groups_of.get(vm.id, ()):
                on = self.members_on[g.name]
                on[i] -= 1
                if on[i] == 0:
                    del on[i]
        if keep_usage:
            return
        for j in self.booked.pop(vm.id, []):
            self.used_c[j] -= vm.vcpus
            self.used_m[j] -= vm.memory_mib

    def assign(self, vm: Vm, host: str, *, keep_source: bool = False) -> None:
        """Book ``vm`` on ``host`` (moving it from wherever it was booked)."""
        self.release(vm, keep_usage=keep_source)
        self._add(vm, self.index[host])

    # -- filters ------------------------------------------------------------
    def static_candidates(self, vm: Vm) -> list[int]:
        """Eligible hosts passing the filters that do not depend on usage."""
        key = (vm.pools, tuple(sorted(vm.node_selector.items())), vm.needs_networking)
        got = self._static.get(key)
        if got is None:
            sel = key[1]
            labels = [self.state.nodes[h].labels for h in self.ids]
            got = [
                i
                for i in self.eligible
                if self.cap_m[i] > 0
                and self.cap_c[i] > 0
                and vm.pools <= self.visible[i]
                and all(labels[i].get(k) == v for k, v in sel)
                and self.has_networking(vm, i)
            ]
            self._static[key] = got
        return got

    def has_networking(self, vm: Vm, i: int) -> bool:
        return not vm.needs_networking or self.state.nodes[self.ids[i]].networking

    def group_rules(self, vm: Vm) -> tuple[set[int], set[int] | None, list[str]]:
        """(hosts banned by anti-affinity, hosts allowed by affinity or None, group
        names involved) — the VM's own booking does not count against itself."""
        banned: set[int] = set()
        allowed: set[int] | None = None
        names: list[str] = []
        me = self.group_host.get(vm.id)
        for g in self.groups_of.get(vm.id, ()):
            on = self.members_on[g.name]
            hosts = {i for i, n in on.items() if n - (1 if i == me else 0) > 0}
            if not hosts:
                continue
            names.append(g.name)
            if g.kind == "anti_affinity":
                banned |= hosts
            else:
                allowed = hosts if allowed is None else allowed & hosts
        return banned, allowed, names

    def fits(self, vm: Vm, i: int) -> bool:
        """Whether host index ``i`` passes every filter for ``vm`` right now."""
        if i not in self.static_candidates(vm):
            return False
        banned, allowed, _ = self.group_rules(vm)
        return (
            i not in banned
            and (allowed is None or i in allowed)
            and self.used_m[i] + vm.memory_mib <= self.cap_m[i] + _EPS
            and self.used_c[i] + vm.vcpus <= self.cap_c[i] + _EPS
        )

    # -- choosing -----------------------------------------------------------
    def choose(self, vm: Vm, exclude: frozenset[str] = frozenset()) -> str | None:
        """The best host for ``vm`` under the policy, or None."""
        banned, allowed, _ = self.group_rules(vm)
        for h in exclude:
            if h in self.index:
                banned.add(self.index[h])
        need_c, need_m = vm.vcpus, vm.memory_mib
        cap_c, cap_m, used_c, used_m = self.cap_c, self.cap_m, self.used_c, self.used_m
        sign = -1.0 if self.policy.strategy == "pack" else 1.0
        best = -1
        best_score = 0.0
        for i in self.static_candidates(vm):
            free_m = cap_m[i] - used_m[i] - need_m
            if free_m < -_EPS:
                continue
            free_c = cap_c[i] - used_c[i] - need_c
            if free_c < -_EPS:
                continue
            if i in banned or (allowed is not None and i not in allowed):
                continue
            # Spread: most free room (memory and CPU share) after placing; pack: least.
            score = sign * (free_m / cap_m[i] + free_c / cap_c[i])
            if best < 0 or score > best_score:
                best, best_score = i, score
        return None if best < 0 else self.ids[best]

    def why_not(self, vm: Vm) -> str:
        """Why no host can take ``vm``, in terms a person understands."""
        return Explainer(self, vm).explain()

    def place(self, vm: Vm, exclude: frozenset[str] = frozenset()) -> tuple[str | None, str]:
        """Choose and book a host; (host, "") or (None, reason)."""
        host = self.choose(vm, exclude)
        if host is None:
            return None, self.why_not(vm)
        self.assign(vm, host)
        return host, ""


def schedule(
    state: ClusterState, policy: SchedulerPolicy, now: float, lease_ttl: float
) -> PlacementResult:
    """Place every VM that has no placement yet (and is not being deleted)."""
    ok, why = eligible_hosts(state, now, lease_ttl)
    placer = Placer(state, policy, ok, why)
    todo = sorted(
        (v for v in state.vms.values() if v.placement is None and v.desired != "deleted"),
        key=placement_order,
    )
    result = PlacementResult()
    for vm in todo:
        host, reason = placer.place(vm)
        if host is None:
            result.errors[vm.id] = reason
        else:
            result.placed[vm.id] = host
    return result
