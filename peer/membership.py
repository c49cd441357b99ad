"""Who votes: the leader keeps 3 (or 5) voters among healthy hosts.

Every host joins as a read-only replica that holds the whole state. The leader
promotes replicas while there are fewer voters than the target — 3 while the
cluster has fewer than 5 hosts, 5 from then on, never more than there are hosts —
and replaces a voter whose lease has been stale for longer than ``voter_gone_after``
by a healthy replica, so a lost voter does not leave the cluster one failure from
losing quorum. One change at a time, each awaited until committed.

mDNS never enters into it: only Raft-committed leases say whether a host is alive.
The decision is a pure function of the state (``plan``); ``MembershipManager``
commits and performs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from peer.logs import kv
from raft.commands import Change as StoreChange
from raft.errors import StoreError
from raft.store import Store, Watch, put

log = logging.getLogger("peer.membership")


# How long a removed host keeps its vote after the leader saw its removal (s).
REMOVED_GRACE = 2.0


def target_voters(hosts: int) -> int:
    return min(hosts, 3 if hosts < 5 else 5)


@dataclass(frozen=True)
class Change:
    kind: str  # "add" | "remove"
    node_id: str
    raft_addr: str
    reason: str


def plan(
    nodes: dict[str, dict[str, Any]],
    voters: set[str],
    lease_age: dict[str, float],
    healthy_within: float,
    voter_gone_after: float,
) -> Change | None:
    """The next membership change, or None. Pure.

    ``nodes``: node id -> record (``raft_addr``, ``state``); ``voters``: the raft
    addresses that vote now; ``lease_age``: node id -> seconds since its last
    committed renewal (missing = never renewed).
    """
    live = {nid: n for nid, n in nodes.items() if n.get("state") != "removed"}
    by_addr = {n.get("raft_addr"): nid for nid, n in live.items()}
    # A removed host that still votes (it left the cluster: peer/leave.py) goes
    # first; the leader never removes itself (a leaving leader steps down first).
    removed = {n.get("raft_addr"): nid for nid, n in nodes.items() if n.get("state") == "removed"}
    for addr in sorted(a for a in voters if a in removed):
        return Change("remove", removed[addr], str(addr), "the host was removed from the cluster")

    def healthy(nid: str) -> bool:
        return lease_age.get(nid, float("inf")) <= healthy_within

    target = target_voters(len(live))
    replicas = sorted(
        nid for nid, n in live.items() if n.get("raft_addr") not in voters and healthy(nid)
    )
    gone = sorted(
        by_addr[a]
        for a in voters
        if a in by_addr and lease_age.get(by_addr[a], float("inf")) > voter_gone_after
    )
    if len(voters) < target and replicas:
        nid = replicas[0]
        return Change("add", nid, live[nid]["raft_addr"], f"{len(voters)} voters, want {target}")
    if gone and replicas:
        nid = gone[0]
        return Change("remove", nid, live[nid]["raft_addr"], "voter's lease is stale: replacing it")
    if len(voters) > target:
        # More voters than wanted (hosts were removed): drop a stale one first.
        extra = gone or sorted(by_addr[a] for a in voters if a in by_addr)
        if extra:
            nid = extra[-1]
            return Change("remove", nid, live[nid]["raft_addr"], f"want {target} voters")
    return None


class VotingStore(Protocol):
    def voters(self) -> list[str]: ...
    async def add_voter(self, addr: str, timeout: float = ...) -> None: ...
    async def remove_voter(self, addr: str, timeout: float = ...) -> None: ...


class MembershipManager:
    """Runs on every peer; acts only while this peer leads."""

    def __init__(
        self,
        store: Store,
        *,
        heartbeat: float,
        fence_after: float,
        voter_gone_after: float = 30.0,
    ) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self.healthy_within = fence_after
        self.voter_gone_after = max(voter_gone_after, 2 * fence_after)
        self._stop = asyncio.Event()
        # node id -> when this leader first saw it removed (local monotonic time).
        self._removed_seen: dict[str, float] = {}

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            # A host joining (a new ``nodes`` record) wakes the pass at once, and
            # while this leader is short of voters so does a lease renewal, so a
            # joined replica is promoted as soon as its first renewal commits, not
            # at the next pass (up to a heartbeat later, on the critical path of
            # cluster formation). Opened before the pass so that nothing slips
            # between the two. Leases are not watched otherwise: every host's
            # renewal would wake every peer's manager for nothing.
            tables = ("nodes", "leases") if self._short_of_voters() else ("nodes",)
            watch = self.store.watch(tables)
            try:
                changed = None
                try:
                    if self.store.is_leader:
                        changed = await self.step()
                except StoreError as e:
                    log.info("membership step failed", extra=kv(reason=e.message))
                if changed is not None:
                    continue  # one change is committed: look for the next one at once
                await self._pause(watch)
            finally:
                watch.close()

    def _short_of_voters(self) -> bool:
        """This peer leads and has fewer voters than the cluster's hosts call for."""
        store: Any = self.store
        if not hasattr(store, "voters") or not self.store.is_leader:
            return False
        # Removed hosts count here (plan() does not): at worst a watch for nothing.
        return len(store.voters()) < target_voters(self.store.count("nodes"))

    async def _pause(self, watch: Watch) -> None:
        """Until the next pass: ``heartbeat`` seconds (stale voters are judged by
        time), or sooner when a change may let the leader promote a replica."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.heartbeat
        while not self._stop.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            change = await watch.next(left)
            if change is None or self._may_promote(change):
                return

    def _may_promote(self, change: StoreChange) -> bool:
        """Cheap test: could this change make ``plan`` add a voter now? Every
        host's lease renews each heartbeat, so most changes must not cost a pass."""
        if change.table == "nodes":
            return True  # a host joined, left or was removed
        if not self._short_of_voters():
            return False
        rec = self.store.get("nodes", change.key)
        voters: list[str] = self.store.voters()  # type: ignore[attr-defined]
        return rec is not None and rec.value.get("raft_addr") not in voters

    async def step(self) -> Change | None:
        store: Any = self.store
        if not hasattr(store, "voters"):
            return None
        nodes = {r.key: r.value for r in self.store.scan("nodes")}
        now = self.store.sm.last_ts
        ages = {
            r.key: now - float(r.value.get("renewed_at", 0.0)) for r in self.store.scan("leases")
        }
        voters = set(store.voters())
        change = plan(nodes, voters, ages, self.healthy_within, self.voter_gone_after)
        if (
            change is not None
            and change.kind == "remove"
            and change.raft_addr == getattr(store, "self_addr", None)
        ):
            change = None  # Raft cannot let a leader remove itself: it steps down first
        change = self._after_grace(change, nodes)
        if change is None:
            await self._sync_flags(nodes, voters)
            return None
        if change.kind == "add" and not self._voters_connected(voters):
            return None  # the last promoted voter is still restarting as one
        # Raft's rule for one-at-a-time changes: a leader changes the membership
        # only once an entry of its own term has committed (a leader elected in
        # the middle of a change must not stack another on it). The barrier is
        # such an entry; without a quorum it fails and nothing changes.
        await self.store.barrier(timeout=5.0)
        log.info(
            "membership change",
            extra=kv(kind=change.kind, node=change.node_id, reason=change.reason),
        )
        if change.kind == "add":
            await store.add_voter(change.raft_addr)
        else:
            await store.remove_voter(change.raft_addr)
        await self._sync_flags(nodes, set(store.voters()))
        return change

    def _after_grace(
        self, change: Change | None, nodes: dict[str, dict[str, Any]]
    ) -> Change | None:
        """A host that left is taken out of the voters only REMOVED_GRACE after this
        leader first saw it removed: once out, it hears nothing more, and it must
        first have learnt (from a heartbeat's commit index) that its removal
        committed, or it would wait for it forever (peer/leave.py)."""
        now = asyncio.get_running_loop().time()
        removed = {nid for nid, n in nodes.items() if n.get("state") == "removed"}
        self._removed_seen = {n: self._removed_seen.get(n, now) for n in removed}
        if change is None or change.kind != "remove" or change.node_id not in removed:
            return change
        return change if now - self._removed_seen[change.node_id] >= REMOVED_GRACE else None

    def _voters_connected(self, voters: set[str]) -> bool:
        """Every other voter is connected to this leader.

        A promoted replica restarts its Raft node as a voter, which takes seconds
        on a host busy with 30 others starting. Adding the next voter before it
        is back makes the new configuration's majority depend on nodes that are
        not answering yet: commits (leases, joins) stall and the add times out
        (measured: failed 15 s adds in a 32-host formation). So a promotion
        waits until the previous one is connected again."""
        st = self.store.status()
        me = st.get("address")
        connected = st.get("connected")
        if connected is None:
            return True  # a store that does not say (tests): nothing to wait for
        return all(v in set(connected) for v in voters if v != me)

    async def _sync_flags(self, nodes: dict[str, dict[str, Any]], voters: set[str]) -> None:
        """Keep each node record's ``voter`` flag equal to Raft's configuration."""
        for nid, n in nodes.items():
            want = n.get("raft_addr") in voters
            if bool(n.get("voter")) != want:
                rec = self.store.get("nodes", nid)
                if rec is not None:
                    with contextlib.suppress(StoreError):
                        await self.store.commit(
                            [put("nodes", nid, dict(rec.value, voter=want), expect=rec.version)]
                        )
