"""The fencing rule as pure functions: when a peer must fence itself, and when the
leader may consider a silent peer fenced. docs/ha.md explains why the pair is safe.

Two clocks appear and are never mixed:

- *committed time*: the timestamps carried inside committed commands (a lease's
  ``renewed_at``, the leader's own fresh renewal). Every replica sees the same
  values, so a decision based on them survives a change of leader.
- *local monotonic time*: used by a peer to time its own renewals, and by the
  leader to time how long it has itself watched a lease stay unchanged. It never
  jumps with NTP, and needs no agreement between hosts.

The leader restarts a peer's VMs only when *both* say the lease has been silent
for more than ``fence_after + margin``: committed time alone would trust the two
hosts' wall clocks to agree, monotonic time alone would not be replicated data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peer.scheduler.model import Lease


def default_margin(heartbeat: float) -> float:
    """Extra wait on top of ``fence_after``: covers the fenced peer's time to kill
    its guests, a late timer on its side, and wall-clock skew between hosts."""
    return max(2.0, 2.0 * heartbeat)


def should_self_fence(now: float, last_renewal_sent: float, fence_after: float) -> bool:
    """Whether a peer must fence itself now (local monotonic times).

    ``last_renewal_sent`` is when the last renewal that *did* commit was sent,
    not when its acknowledgement came back: the commit may have happened anywhere
    in between, so timing from the send is the conservative choice."""
    return now - last_renewal_sent >= fence_after


def lease_expired_beyond_fence(
    renewed_at: float | None,
    committed_now: float,
    observed_for: float,
    fence_after: float,
    margin: float,
) -> bool:
    """Whether the leader may treat the lease's holder as fenced.

    ``renewed_at``: the lease's committed timestamp (None: never renewed).
    ``committed_now``: the timestamp of a commit the leader made just now.
    ``observed_for``: local monotonic seconds the leader has seen this lease at
    its current version. Both must exceed ``fence_after + margin``."""
    wait = fence_after + margin
    committed_age = float("inf") if renewed_at is None else committed_now - renewed_at
    return committed_age > wait and observed_for > wait


class LeaseObserver:
    """Remembers, on the local monotonic clock, since when each node's lease has
    been at its current version. Fed with explicit times, so tests need no clock.

    Observing as a follower is valid too: a change is seen only after it was
    committed, so "unchanged since t" can only be an underestimate."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float]] = {}

    def observe(self, nodes: Iterable[str], leases: Mapping[str, Lease], now: float) -> None:
        current: dict[str, tuple[int, float]] = {}
        for node in set(nodes) | set(leases):
            lease = leases.get(node)
            version = lease.version if lease is not None else 0
            prev = self._seen.get(node)
            current[node] = prev if prev is not None and prev[0] == version else (version, now)
        self._seen = current

    def observed_for(self, node: str, now: float) -> float:
        seen = self._seen.get(node)
        return 0.0 if seen is None else now - seen[1]

    def silent(self, now: float, longer_than: float) -> set[str]:
        """Nodes whose lease has not changed for more than ``longer_than`` seconds."""
        return {n for n, (_, since) in self._seen.items() if now - since > longer_than}


@dataclass(frozen=True)
class DeadNode:
    """A node judged fenced, and the lease version the judgement rests on (the
    re-placement commit checks it is still that version; None: no lease record)."""

    node: str
    lease_version: int | None


def dead_nodes(
    nodes: Iterable[str],
    leases: Mapping[str, Lease],
    observer: LeaseObserver,
    *,
    committed_now: float,
    mono_now: float,
    fence_after: float,
    margin: float,
    me: str,
) -> dict[str, DeadNode]:
    """Every node (other than ``me``) whose lease is expired beyond the fence window."""
    out: dict[str, DeadNode] = {}
    for node in sorted(set(nodes) | set(leases)):
        if node == me:
            continue
        lease = leases.get(node)
        if lease_expired_beyond_fence(
            lease.renewed_at if lease is not None else None,
            committed_now,
            observer.observed_for(node, mono_now),
            fence_after,
            margin,
        ):
            out[node] = DeadNode(node, lease.version if lease is not None else None)
    return out
