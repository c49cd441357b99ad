"""The voter rule: 3 voters below 5 hosts, 5 from then on; stale voters replaced."""

import asyncio
import contextlib
import time

from peer.ha.lease import lease_value
from peer.membership import MembershipManager, plan, target_voters
from raft.commands import Change
from raft.store import LocalStore, Watch


def nodes(n):
    return {f"n{i}": {"raft_addr": f"10.0.0.{i}:8444", "state": "active"} for i in range(1, n + 1)}


def addr(i):
    return f"10.0.0.{i}:8444"


def test_target_voters():
    assert [target_voters(h) for h in (1, 2, 3, 4, 5, 7, 32)] == [1, 2, 3, 3, 5, 5, 5]


def test_promotes_a_healthy_replica_while_short_of_voters():
    ages = {f"n{i}": 0.5 for i in range(1, 4)}
    ch = plan(nodes(3), {addr(1)}, ages, healthy_within=6, voter_gone_after=30)
    assert ch is not None and ch.kind == "add" and ch.node_id == "n2"


def test_an_unhealthy_replica_is_not_promoted():
    ages = {"n1": 0.5, "n2": 60.0}
    assert plan(nodes(2), {addr(1)}, ages, healthy_within=6, voter_gone_after=30) is None


def test_four_hosts_keep_three_voters_five_get_five():
    ages = {f"n{i}": 0.1 for i in range(1, 6)}
    three = {addr(1), addr(2), addr(3)}
    assert plan(nodes(4), three, ages, 6, 30) is None
    ch = plan(nodes(5), three, ages, 6, 30)
    assert ch is not None and ch.kind == "add" and ch.node_id == "n4"


def test_a_voter_gone_too_long_is_replaced_by_a_healthy_replica():
    ages = {f"n{i}": 0.1 for i in range(1, 8)}
    ages["n2"] = 45.0
    voters = {addr(i) for i in range(1, 6)}
    ch = plan(nodes(7), voters, ages, 6, 30)
    assert ch is not None and ch.kind == "remove" and ch.node_id == "n2"
    # Once removed, a healthy replica takes its place.
    ch = plan(nodes(7), voters - {addr(2)}, ages, 6, 30)
    assert ch is not None and ch.kind == "add" and ch.node_id == "n6"


def test_a_stale_voter_with_no_replacement_stays():
    ages = {"n1": 0.1, "n2": 0.1, "n3": 99.0}
    voters = {addr(1), addr(2), addr(3)}
    assert plan(nodes(3), voters, ages, 6, 30) is None


def test_removed_hosts_do_not_count():
    n = nodes(5)
    n["n5"]["state"] = "removed"
    n["n4"]["state"] = "removed"
    ages = {f"n{i}": 0.1 for i in range(1, 6)}
    assert plan(n, {addr(1), addr(2), addr(3)}, ages, 6, 30) is None


class _VotingStore(LocalStore):
    """A leader's store with a Raft configuration: voters by raft address."""

    def __init__(self) -> None:
        super().__init__("n1")
        self._voters = [addr(1)]
        self.added = asyncio.Event()

    def voters(self) -> list[str]:
        return list(self._voters)

    async def add_voter(self, a: str, timeout: float = 15.0) -> None:
        self._voters.append(a)
        self.added.set()

    async def remove_voter(self, a: str, timeout: float = 15.0) -> None:
        self._voters.remove(a)


class _Manager(MembershipManager):
    def __init__(self, store: _VotingStore, heartbeat: float) -> None:
        super().__init__(store, heartbeat=heartbeat, fence_after=6.0)
        self.paused = asyncio.Event()
        self.watching: frozenset[str] | None = None

    async def _pause(self, watch: Watch) -> None:
        self.watching = watch.tables
        self.paused.set()
        await super()._pause(watch)


async def test_a_replica_is_promoted_on_its_first_renewal_not_at_the_next_pass():
    # The pass interval is far longer than the test's deadline: only the reaction
    # to the committed lease can explain a promotion in time.
    store = _VotingStore()
    for i in (1, 2):
        await store.put("nodes", f"n{i}", {"raft_addr": addr(i), "state": "active"})
    await store.put("leases", "n1", lease_value(time.time()))
    mgr = _Manager(store, heartbeat=600.0)
    task = asyncio.create_task(mgr.run())
    try:
        await asyncio.wait_for(mgr.paused.wait(), 5)
        assert store.voters() == [addr(1)]  # n2 has no lease yet: not healthy
        assert mgr.watching == {"nodes", "leases"}
        mgr.paused.clear()
        await store.put("leases", "n2", lease_value(time.time()))
        await asyncio.wait_for(store.added.wait(), 5)
        assert store.voters() == [addr(1), addr(2)]
        # As many voters as wanted: renewals no longer wake the manager.
        await asyncio.wait_for(mgr.paused.wait(), 5)
        assert mgr.watching == {"nodes"}
    finally:
        mgr.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_only_changes_that_may_promote_wake_a_pass():
    store = _VotingStore()
    mgr = MembershipManager(store, heartbeat=1.0, fence_after=6.0)

    def lease(nid: str) -> Change:
        return Change("leases", nid, 1, 1, lease_value(0.0))

    for i in (1, 2):
        await store.put("nodes", f"n{i}", {"raft_addr": addr(i), "state": "active"})
    assert not mgr._may_promote(lease("n1"))  # a voter's renewal
    assert mgr._may_promote(lease("n2"))  # a replica's, while short of voters
    assert mgr._may_promote(Change("nodes", "n3", 2, 1, {"state": "active"}))
    store._voters.append(addr(2))
    assert not mgr._may_promote(lease("n2"))  # as many voters as hosts


async def test_a_host_joining_wakes_a_leader_that_had_all_its_voters() -> None:
    # One host, one voter: nothing to do, leases unwatched. A second host's record
    # (the join) must wake the pass; its first renewal then promotes it.
    store = _VotingStore()
    await store.put("nodes", "n1", {"raft_addr": addr(1), "state": "active"})
    await store.put("leases", "n1", lease_value(time.time()))
    mgr = _Manager(store, heartbeat=600.0)
    task = asyncio.create_task(mgr.run())
    try:
        await asyncio.wait_for(mgr.paused.wait(), 5)
        assert mgr.watching == {"nodes"}
        mgr.paused.clear()
        await store.put("nodes", "n2", {"raft_addr": addr(2), "state": "active"})
        await asyncio.wait_for(mgr.paused.wait(), 5)
        assert mgr.watching == {"nodes", "leases"}
        await store.put("leases", "n2", lease_value(time.time()))
        await asyncio.wait_for(store.added.wait(), 5)
        assert store.voters() == [addr(1), addr(2)]
    finally:
        mgr.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
