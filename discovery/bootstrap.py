"""The bootstrap rule: which unclustered host forms the cluster, who joins whom. Pure.

Hosts given the same cluster name (node.yaml) and no cluster yet announce role
"joining". Each one, on every table change and tick, calls ``decide``:

1. A factory-state host (no name) or a host already in a cluster: nothing to do.
2. If any host of my cluster name is already a member or leader: join it (its
   leader if visible). If several cluster instances carry my name, join the one
   with a visible leader and most members (lowest cluster id on a tie) — and
   ``split_brains`` reports the conflict loudly.
3. Otherwise wait ``settle_window`` after I started looking, so hosts plugged in
   together see each other; then the lowest node id among me and the "joining"
   hosts of my name bootstraps, the others wait for it to become leader.
4. A lower host that never becomes a member is skipped: the host at rank k
   (0 = lowest) is given until ``settle_window + (k+1) * bootstrap_timeout``
   from when both of us were seen. Ranks stagger the deadlines, so exactly one
   host (the next lowest) takes over at a time. A host that leaves mDNS (goodbye
   or TTL expiry) leaves the table and the candidates at once.

An mDNS disappearance only ever changes this decision; it never removes a Raft
member (membership is the store's business).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from discovery.model import Announcement, SeenHost

Action = Literal["none", "wait", "bootstrap", "join"]


@dataclass(frozen=True)
class Decision:
    """What to do now. ``target``: the host to join, or the host we wait for."""

    action: Action
    target: SeenHost | None = None
    reason: str = ""


@dataclass(frozen=True)
class SplitBrain:
    """Two or more cluster instances announce one cluster name."""

    cluster_name: str
    # cluster id -> sorted node ids announcing it
    instances: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def describe(self) -> str:
        parts = "; ".join(f"{cid}: {', '.join(ids)}" for cid, ids in sorted(self.instances.items()))
        return (
            f"SPLIT BRAIN: {len(self.instances)} different clusters are named "
            f"{self.cluster_name!r} on this network ({parts}); they do not merge by "
            "themselves — rename or reinstall one of them"
        )


def decide(
    me: Announcement,
    seen: Iterable[SeenHost],
    now: float,
    first_seen_at: float,
    settle_window: float,
    bootstrap_timeout: float = 30.0,
) -> Decision:
    """Decide whether this host waits, bootstraps a new cluster or joins one.

    ``first_seen_at`` is when this host started looking (same clock as ``now``
    and the hosts' ``first_seen``); ``seen`` may include this host itself.
    """
    if me.is_factory:
        return Decision("none", reason="factory state: waits to be adopted")
    if me.cluster_id or me.is_clustered:
        return Decision("none", reason="already in a cluster")
    peers = [h for h in seen if h.node_id != me.node_id and h.cluster_name == me.cluster_name]
    clustered = [h for h in peers if h.info.is_clustered and h.cluster_id]
    if clustered:
        target = _join_target(clustered)
        return Decision("join", target, f"cluster {target.cluster_id} exists")
    if now - first_seen_at < settle_window:
        return Decision("wait", reason="settling: waiting to see the other hosts")
    joining = sorted((h for h in peers if h.role == "joining"), key=lambda h: h.node_id)
    ranked: list[SeenHost | None] = [h for h in joining if h.node_id < me.node_id]
    ranked.append(None)  # me
    for rank, host in enumerate(ranked):
        if host is None:
            return Decision("bootstrap", reason="lowest node id among the unclustered hosts")
        waited = now - max(first_seen_at, host.first_seen)
        if waited <= settle_window + (rank + 1) * bootstrap_timeout:
            return Decision("wait", host, f"{host.node_id} has the lowest node id")
    raise AssertionError("unreachable: me is always ranked")


def _join_target(clustered: list[SeenHost]) -> SeenHost:
    by_cluster: dict[str, list[SeenHost]] = {}
    for h in clustered:
        by_cluster.setdefault(h.cluster_id, []).append(h)

    def rank(cid: str) -> tuple[bool, int, str]:
        hosts = by_cluster[cid]
        has_leader = any(h.role == "leader" for h in hosts)
        return (not has_leader, -len(hosts), cid)

    hosts = by_cluster[min(by_cluster, key=rank)]
    leaders = sorted((h for h in hosts if h.role == "leader"), key=lambda h: h.node_id)
    return leaders[0] if leaders else min(hosts, key=lambda h: h.node_id)


def split_brains(me: Announcement | None, seen: Iterable[SeenHost]) -> list[SplitBrain]:
    """Every cluster name announced by more than one cluster instance (cluster id).

    Only hosts that carry a cluster id count; factory and joining hosts cannot
    conflict. ``me`` (if given) counts too. Sorted by cluster name.
    """
    ids: dict[str, dict[str, set[str]]] = {}
    infos = [h.info for h in seen]
    if me is not None:
        infos.append(me)
    for a in infos:
        if a.cluster_name and a.cluster_id:
            ids.setdefault(a.cluster_name, {}).setdefault(a.cluster_id, set()).add(a.node_id)
    return [
        SplitBrain(name, {cid: tuple(sorted(nodes)) for cid, nodes in inst.items()})
        for name, inst in sorted(ids.items())
        if len(inst) > 1
    ]


def yield_to(me: Announcement, seen: Iterable[SeenHost], alone: bool) -> SeenHost | None:
    """Should my one-host cluster give way to another instance of its name? Pure.

    The split brain a restart can cause: a host bootstraps alone, is down while
    the others form a cluster of the same name, and comes back as the leader of
    its own. ``alone`` is the caller's local knowledge that its cluster has
    never had another member and holds nothing worth keeping (no VMs). Such a
    host yields — leaves its instance and joins the returned host — to an
    instance with more hosts seen, or as many and a lower cluster id (so of two
    lone hosts exactly one yields). None: keep my cluster.
    """
    if not alone or not me.cluster_id or not me.cluster_name:
        return None
    others: dict[str, list[SeenHost]] = {}
    for h in seen:
        if (
            h.cluster_name == me.cluster_name
            and h.cluster_id
            and h.cluster_id != me.cluster_id
            and h.info.is_clustered
        ):
            others.setdefault(h.cluster_id, []).append(h)
    mine = 1 + sum(1 for h in seen if h.cluster_id == me.cluster_id and h.node_id != me.node_id)
    better = [
        cid
        for cid, hosts in others.items()
        if len(hosts) > mine or (len(hosts) == mine and cid < me.cluster_id)
    ]
    if not better:
        return None
    best = min(better, key=lambda cid: (-len(others[cid]), cid))
    return _join_target(others[best])
