"""The bootstrap rule: which unclustered host forms the cluster, who joins whom. Pure.

Hosts given the same cluster name (node.yaml) and no cluster yet announce role
"joining". Each one, on every table change and tick, calls ``decide``:

1. A factory-state host (no name) or a host already in a cluster: nothing to do.
2. If any host of my cluster name is already a member or leader: join it (its
   leader if visible). If several cluster instances carry my name, join the one
   the others give way to (``Instance.rank_key``, below).
3. Otherwise wait ``settle_window`` after I started looking, and until no new
   "joining" host of my name has appeared for half a window, so hosts plugged
   in together see each other; then the lowest node id among me and the
   "joining" hosts of my name bootstraps, the others wait for it to become leader.
4. A lower host that never becomes a member is skipped: the host at rank k
   (0 = lowest) is given until ``settle_window + (k+1) * bootstrap_timeout``
   from when both of us were seen. Ranks stagger the deadlines, so exactly one
   host (the next lowest) takes over at a time. A host that leaves mDNS (goodbye
   or TTL expiry) leaves the table and the candidates at once.

An mDNS disappearance only ever changes this decision; it never removes a Raft
member (membership is the store's business).

No timing rule can stop two bootstraps on a LAN whose packets may be late (a
host whose settle window ends before another's claim reaches it bootstraps
too), so a second rule makes two instances of one name unable to both stand.
``merge`` is applied by every clustered host: the instances of a name are
totally ordered — settled (in use) before young (no workload, no user changes),
young ones by age (the cluster id is time-ordered, ``new_cluster_id``), settled
ones by host count then age — and a host of any instance that is not first
leaves it and joins the first one, if its instance is young or runs no VM;
otherwise the split is reported for an admin to settle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
            f"{self.cluster_name!r} on this network ({parts}); a young side or one "
            "running no VM rejoins the other by itself, otherwise an admin chooses "
            "(POST /api/v1/cluster/rejoin on the side that gives way)"
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
    # Hosts powered on together keep appearing for a while (and a CPU-starved
    # peer resolves them late): settle until none has appeared for half a window.
    newest = max((h.first_seen for h in joining), default=first_seen_at)
    if now - newest < settle_window / 2:
        return Decision("wait", reason="settling: hosts of this cluster are still appearing")
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
    """The host to join among clustered hosts of one name: in the instance that
    ranks first (``rank_key``), its leader if visible, else its lowest member."""
    by_cluster: dict[str, list[SeenHost]] = {}
    for h in clustered:
        by_cluster.setdefault(h.cluster_id, []).append(h)
    best = min(
        (Instance.of(cid, hosts) for cid, hosts in by_cluster.items()), key=lambda i: i.rank_key
    )
    return best.entry()


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


@dataclass(frozen=True)
class Instance:
    """One cluster instance of a name as mDNS shows it."""

    cluster_id: str
    hosts: tuple[SeenHost, ...]  # the hosts seen announcing it (never me)
    node_ids: frozenset[str]  # every host in it, me included when it is mine
    young: bool  # every host of it says "young" (no workload, no user changes)

    @staticmethod
    def of(cid: str, hosts: Iterable[SeenHost], me: Announcement | None = None) -> Instance:
        hs = tuple(sorted(hosts, key=lambda h: h.node_id))
        ids = {h.node_id for h in hs} | ({me.node_id} if me is not None else set())
        young = all(h.info.young for h in hs) and (me is None or me.young)
        return Instance(cid, hs, frozenset(ids), young)

    @property
    def rank_key(self) -> tuple[bool, int, str]:
        """Smallest first = the instance every other one gives way to.

        Settled before young: a cluster in use never dissolves for a new one.
        Between young instances only age counts (the lower, time-ordered cluster
        id): it is fixed at creation and the same on every host, whereas host
        counts change while hosts move and differ between stale views, so two
        young instances can never each decide to dissolve into the other. Between
        settled instances the one with more hosts, then the older.
        """
        return (self.young, 0 if self.young else -len(self.node_ids), self.cluster_id)

    def entry(self) -> SeenHost:
        """The host to join: the leader if one is visible, else the lowest member."""
        leaders = [h for h in self.hosts if h.role == "leader"]
        return (leaders or list(self.hosts))[0]


def instances(me: Announcement, seen: Iterable[SeenHost]) -> dict[str, Instance]:
    """Every instance of my cluster name, mine included (cluster id -> Instance)."""
    hosts: dict[str, list[SeenHost]] = {}
    for h in seen:
        if (
            h.node_id != me.node_id
            and h.cluster_name == me.cluster_name
            and h.cluster_id
            and h.info.is_clustered
        ):
            hosts.setdefault(h.cluster_id, []).append(h)
    out = {cid: Instance.of(cid, hs) for cid, hs in hosts.items()}
    if me.cluster_id:
        out[me.cluster_id] = Instance.of(me.cluster_id, hosts.get(me.cluster_id, []), me)
    return out


MergeAction = Literal["stay", "move", "report"]


@dataclass(frozen=True)
class Merge:
    """What a clustered host does about other instances of its name.

    ``move``: leave this instance and join ``target`` (of instance ``into``);
    ``report``: this side should give way but runs VMs, so an admin chooses;
    ``stay``: no other instance, or this one is the one the others join.
    """

    action: MergeAction
    target: SeenHost | None = None
    into: str = ""
    reason: str = ""


def merge(me: Announcement, seen: Iterable[SeenHost], *, running_vms: int) -> Merge:
    """Heal a split brain: should this host leave its instance for another? Pure.

    Every host of every instance of one name evaluates this on its own; the
    instances are totally ordered (``Instance.rank_key``) and a host only ever
    moves to the first one, so moves never form a cycle and all of them end in
    one instance. This host's instance gives way when it is not first and
    either it is young (``me.young``: no workload, no user changes — nothing is
    lost by dissolving it) or it runs no VM (``running_vms``, this instance's
    count from the local replica): then it is the smaller or younger side and
    rejoins automatically. A side that runs VMs is never dissolved
    automatically: ``report``, so an admin can choose.
    """
    if not me.cluster_id or not me.cluster_name or not me.is_clustered:
        return Merge("stay", reason="not in a cluster")
    insts = instances(me, seen)
    if len(insts) < 2:
        return Merge("stay", reason="the only instance of its name")
    mine = insts[me.cluster_id]
    best = min(insts.values(), key=lambda i: i.rank_key)
    if best is mine:
        return Merge("stay", reason="the other instances of this name give way to this one")
    size = f"{len(best.node_ids)} host(s) vs {len(mine.node_ids)} here"
    if mine.young:
        why = "settled" if not best.young else "older"
        return Merge(
            "move",
            best.entry(),
            best.cluster_id,
            f"this young cluster gives way to the {why} instance {best.cluster_id} ({size})",
        )
    if running_vms == 0:
        return Merge(
            "move",
            best.entry(),
            best.cluster_id,
            f"no VM runs here: this side rejoins instance {best.cluster_id} ({size})",
        )
    return Merge(
        "report",
        None,
        best.cluster_id,
        f"instance {best.cluster_id} outranks this one ({size}) but {running_vms} VM(s) "
        "run here: an admin must choose which side rejoins the other",
    )


def joined_instance_lost(me: Announcement, cluster_id: str, seen: Iterable[SeenHost]) -> str:
    """Why a host still catching up with instance ``cluster_id`` (it announces
    ``joining`` until it has) should give up on it and look again; "" if it
    should not. Pure. The instance it was admitted to may have dissolved into
    another meanwhile (``merge``): none of its hosts is visible any more, or
    another instance of the name outranks it, so it will never answer."""
    insts = instances(replace(me, cluster_id="", role="joining", young=False), seen)
    if cluster_id not in insts:
        return f"no host of instance {cluster_id} is visible any more"
    best = min(insts.values(), key=lambda i: i.rank_key)
    if best.cluster_id != cluster_id and insts[cluster_id].young:
        return f"instance {cluster_id} gives way to {best.cluster_id}"
    return ""


def new_cluster_id(now: float, rand: str) -> str:
    """A cluster id whose order is its age: milliseconds since the epoch (12 hex
    digits) then ``rand`` (hex) for uniqueness. The merge rule lets younger
    instances give way by comparing ids, so only the order matters, and clocks
    that disagree by a little only change which of two racing instances wins."""
    return f"{int(now * 1000):012x}{rand}"
