"""RaftStore in this process: the API's contract on a one- and three-node cluster.

The crash, durability and membership behaviour is tested with real processes in
test_cluster.py; these check the asyncio API, watches, errors and exactly-once.
"""

import asyncio
import time

import pytest

from raft.errors import Conflict, InvalidCommand, MembershipError, SecretRequired, StoreError
from raft.node import RaftStore
from raft.store import LocalStore, WatchExpired, put
from testkit.raftnode import free_ports
from tests.util import async_wait_for

SECRET = "unit-test-secret-0123"


def addrs(n):
    return [f"127.0.0.1:{p}" for p in free_ports(n)]


@pytest.fixture
async def single(tmp_path):
    (a,) = addrs(1)
    store = RaftStore(a, [], tmp_path / "n1", SECRET)
    await store.start()
    await async_wait_for(lambda: store.is_leader, 10)
    yield store
    await store.stop()


@pytest.fixture
async def trio(tmp_path):
    members = addrs(3)
    stores = [RaftStore(a, members, tmp_path / f"n{i}", SECRET) for i, a in enumerate(members)]
    await asyncio.gather(*(s.start() for s in stores))
    await async_wait_for(lambda: sum(s.is_leader for s in stores) == 1, 10)
    yield stores
    await asyncio.gather(*(s.stop() for s in stores))


def test_refuses_to_start_without_a_secret(tmp_path):
    (a,) = addrs(1)
    for secret in (None, ""):
        with pytest.raises(SecretRequired) as e:
            RaftStore(a, [], tmp_path, secret)
        assert "secret" in e.value.message
    with pytest.raises(SecretRequired):
        RaftStore(a, [], tmp_path, "short")


def test_refuses_the_any_address_and_bad_addresses(tmp_path):
    with pytest.raises(StoreError) as e:
        RaftStore("0.0.0.0:7000", [], tmp_path, SECRET)
    assert "any-address" in e.value.message
    with pytest.raises(StoreError):
        RaftStore("localhost", [], tmp_path, SECRET)


async def test_write_read_conflict_and_exactly_once(single):
    rec = await single.put("vms", "vm1", {"name": "web"}, expect="absent")
    assert rec.version == 1
    assert single.get("vms", "vm1").value == {"name": "web"}
    with pytest.raises(Conflict) as e:
        await single.put("vms", "vm1", {"name": "x"}, expect="absent")
    assert e.value.status == 409 and "vms/vm1" in e.value.message
    first = await single.commit([put("vms", "vm2", {"n": 1})], op_id="op-42")
    again = await single.commit([put("vms", "vm2", {"n": 1})], op_id="op-42")
    assert again["duplicate"] and again["revision"] == first["revision"]
    assert single.get("vms", "vm2").version == 1
    rev = single.revision
    assert await single.barrier() == rev and single.revision == rev  # reads do not write
    with pytest.raises(InvalidCommand):
        await single.put("nope", "k", {})
    with pytest.raises(InvalidCommand):
        await single.put("vms", "k", {"big": 2**70})


async def test_state_survives_a_restart(tmp_path):
    (a,) = addrs(1)
    s = RaftStore(a, [], tmp_path / "n", SECRET)
    await s.start()
    for i in range(30):
        await s.put("vms", f"k{i}", {"i": i})
    s.compact()
    await async_wait_for(lambda: s.status()["snapshots_written"] >= 1, 10)
    for i in range(30, 40):
        await s.put("vms", f"k{i}", {"i": i})
    h, rev = s.state_hash(), s.revision
    await s.stop()
    s2 = RaftStore(a, [], tmp_path / "n", SECRET)
    await s2.start()
    try:
        assert (s2.state_hash(), s2.revision) == (h, rev)  # loaded before start() returns
        assert s2.count("vms") == 40
        again = await s2.commit([put("vms", "k0", {"i": 0})], op_id="fresh")
        assert again["ok"]
    finally:
        await s2.stop()


async def test_one_data_dir_one_process(tmp_path):
    a, b = addrs(2)
    s = RaftStore(a, [], tmp_path / "n", SECRET)
    await s.start()
    try:
        with pytest.raises(StoreError) as e:
            await RaftStore(b, [], tmp_path / "n", SECRET).start()
        assert "in use" in e.value.message
    finally:
        await s.stop()


async def test_watch_on_a_follower_sees_commits_in_order(trio):
    leader = next(s for s in trio if s.is_leader)
    follower = next(s for s in trio if not s.is_leader)
    await leader.put("vms", "before", {"n": 0})
    await async_wait_for(lambda: follower.get("vms", "before") is not None, 10)
    start = follower.revision
    w = follower.watch("vms", prefix="vm-", from_revision=start)
    writes = [asyncio.create_task(leader.put("vms", f"vm-{i}", {"n": i})) for i in range(20)]
    await leader.put("nodes", "vm-ignored", {"n": 1})  # other table: not delivered
    await asyncio.gather(*writes)
    seen = [await asyncio.wait_for(w.__anext__(), 5) for _ in range(20)]
    assert sorted(c.key for c in seen) == sorted(f"vm-{i}" for i in range(20))
    assert [c.revision for c in seen] == sorted(c.revision for c in seen)
    assert await w.next(0.2) is None
    w.close()
    with pytest.raises(WatchExpired):
        follower.watch("vms", from_revision=-(10**6))


async def test_write_through_a_follower_and_linearizable_read(trio):
    follower = next(s for s in trio if not s.is_leader)
    leader = next(s for s in trio if s.is_leader)
    res = await follower.commit([put("vms", "f1", {"x": 1}, "absent")])
    assert res["ok"] and follower.get("vms", "f1").version == 1  # visible where it was written
    await leader.put("vms", "f2", {"x": 2})
    rec = await follower.get_consistent("vms", "f2")
    assert rec is not None and rec.value == {"x": 2}


async def test_the_event_loop_is_never_blocked(trio):
    """Ticks of a 5 ms timer keep coming while 200 writes are in flight."""
    leader = next(s for s in trio if s.is_leader)
    gaps = []

    async def ticker():
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    t = asyncio.create_task(ticker())
    await asyncio.gather(*(leader.put("vms", f"b{i}", {"i": i}) for i in range(200)))
    t.cancel()
    # A commit that blocked the loop would stall the ticker for the whole burst.
    assert max(gaps) < 0.5, max(gaps)


async def test_no_quorum_is_a_typed_error(tmp_path):
    a, b, c = addrs(3)
    s = RaftStore(a, [b, c], tmp_path / "n", SECRET)  # the other two never start
    await s.start()
    try:
        with pytest.raises(StoreError) as e:
            await s.put("vms", "k", {}, timeout=1.0)
        assert e.value.code == "no_quorum" and "same op id" in e.value.message
    finally:
        await s.stop()


async def test_local_store_still_works():
    s = LocalStore()
    w = s.watch("vms")
    await s.put("vms", "a", {"n": 1})
    c = await w.next(1)
    assert c is not None and c.key == "a" and s.status()["role"] == "leader"


def test_importing_the_store_leaves_the_socket_module_working():
    """pysyncobj swaps in a Windows-only socket.inet_ntop; the adapter undoes it."""
    import socket

    import raft.pysyncobj_adapter  # noqa: F401

    assert socket.inet_ntop(socket.AF_INET6, b"\0" * 15 + b"\1") == "::1"


async def test_retiring_the_leader_is_step_down_then_remove(trio):
    leader = next(s for s in trio if s.is_leader)
    follower = next(s for s in trio if not s.is_leader)
    with pytest.raises(MembershipError) as e:
        await follower.remove_voter(follower.self_addr)
    assert "cannot remove itself" in e.value.message
    with pytest.raises(MembershipError) as e:
        await follower.remove_voter(leader.self_addr)
    assert "step_down" in e.value.message
    await leader.step_down()
    await async_wait_for(lambda: any(s.is_leader for s in trio if s is not leader), 10)
    other = next(s for s in trio if s is not leader)
    await other.remove_voter(leader.self_addr)
    for s in trio:
        if s is not leader:
            assert leader.self_addr not in s.voters() and len(s.voters()) == 2
    await other.put("vms", "after-retire", {})  # two voters still commit
