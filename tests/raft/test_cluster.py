"""The store as real processes on loopback (``python -m testkit.raftnode``):
replication, crashes (kill -9), restarts, compaction, membership, secrets,
damaged journals. Each test makes its own cluster on free high ports."""

import asyncio
import itertools
import time

import psutil
import pytest

from testkit.raftnode import LocalCluster, NodeError, retrying_put

pytestmark = pytest.mark.xdist_group("raft-cluster")


@pytest.fixture
async def cluster_factory(tmp_path):
    made = []

    async def make(voters=3, start=True):
        c = LocalCluster(tmp_path / f"c{len(made)}", voters)
        made.append(c)
        if start:
            await c.start()
        return c

    yield make
    for c in made:
        c.kill_all()
        await asyncio.gather(
            *(n.wait_exit() for n in c.nodes.values() if n.proc), return_exceptions=True
        )


class Writers:
    """Concurrent clients, each writing new keys (expect=None, so a second apply
    of the same op would show as version 2) and retrying every write with the
    same op id through any live node until it is acknowledged."""

    def __init__(self, cluster, n=4, pool=None):
        self.cluster = cluster
        self.pool = pool or (lambda: cluster.alive)
        self.acked: dict[str, int] = {}
        self.stopping = False
        self.tasks = [asyncio.create_task(self._run(w)) for w in range(n)]

    async def _run(self, w):
        for i in itertools.count():
            if self.stopping:
                return
            key = f"w{w}-{i:05d}"
            try:
                res = await retrying_put(
                    self.pool, key, {"w": w, "i": i}, f"op-{key}", time.monotonic() + 30
                )
            except TimeoutError:
                continue
            assert res["ok"], res
            self.acked[key] = res["revision"]

    async def stop(self):
        self.stopping = True
        await asyncio.gather(*self.tasks)
        return self.acked


async def check_exactly_once(node, acked):
    keys = (await node.call("keys", table="registers"))["keys"]
    missing = [k for k in acked if k not in keys]
    assert not missing, f"acknowledged writes lost: {missing[:10]}"
    twice = {k: v for k, v in keys.items() if v != 1}
    assert not twice, f"ops applied more than once: {twice}"
    return keys


async def test_three_nodes_replicate_through_followers_and_bind_only_their_address(
    cluster_factory,
):
    c = await cluster_factory(3)
    leader = await c.leader()
    for n in c.nodes.values():
        res = await n.call("put", key=f"via-{n.addr}", value={"x": 1})
        assert res["result"]["ok"]
    follower = next(n for n in c.nodes.values() if n is not leader)
    # Sequential writes through a follower all commit (their speed is bench raft's).
    lat = await follower.call("latency", n=50, wait=60)
    assert lat["n"] == 50
    await c.wait_converged()
    for n in c.nodes.values():
        listening = [
            s.laddr
            for s in psutil.Process(n.pid).net_connections("tcp")
            if s.status == psutil.CONN_LISTEN
        ]
        assert listening == [("127.0.0.1", int(n.addr.rsplit(":", 1)[1]))], listening


async def test_leader_kill_during_a_write_stream_loses_nothing_and_applies_nothing_twice(
    cluster_factory,
):
    c = await cluster_factory(3)
    leader = await c.leader()
    writers = Writers(c, n=6)
    await asyncio.sleep(1.0)
    before = len(writers.acked)
    leader.kill()  # kill -9 while writes are in flight through every node
    await leader.wait_exit()
    survivors = c.alive
    new_leader = await c.leader(among=survivors)
    assert new_leader is not leader
    await asyncio.sleep(1.5)
    acked = await writers.stop()
    assert len(acked) > before + 20, "writes did not continue after the leader died"
    await c.wait_converged(survivors)
    await check_exactly_once(survivors[0], acked)
    await leader.start()  # the old leader comes back and catches up
    await c.wait_converged()
    await check_exactly_once(leader, acked)


async def test_kill_every_node_and_restart_gives_the_identical_state(cluster_factory):
    c = await cluster_factory(3)
    leader = await c.leader()
    await leader.call("bulk", n=1500, concurrency=32, table="registers", wait=60)
    follower = next(n for n in c.nodes.values() if n is not leader)
    await follower.call("bulk", n=200, concurrency=8, prefix="f", table="registers", wait=60)
    before = await c.wait_converged()
    rev = (await leader.call("hash"))["revision"]
    c.kill_all()
    await asyncio.gather(*(n.wait_exit() for n in c.nodes.values()))
    await c.start()
    assert await c.wait_converged(revision=rev) == before
    await c.leader()
    res = await follower.call("put", key="after-restart", value={})
    assert res["result"]["ok"]


async def test_compaction_then_restart_keeps_every_record(cluster_factory):
    c = await cluster_factory(3)
    leader = await c.leader()
    await leader.call("bulk", n=1000, concurrency=32, table="registers", wait=60)
    await c.wait_converged()
    grown = {n.addr: (await n.status())["journal_bytes"] for n in c.nodes.values()}
    for n in c.nodes.values():
        st = (await n.call("compact"))["status"]
        assert st["snapshots_written"] >= 1
    await leader.call("bulk", n=300, concurrency=16, prefix="late", table="registers", wait=60)
    before = await c.wait_converged()
    for n in c.nodes.values():
        st = await n.status()
        assert st["journal_bytes"] < grown[n.addr] / 2, "compaction did not cut the journal"
        assert (n.data / "raft.snapshot").exists()
    rev = (await leader.call("hash"))["revision"]
    c.kill_all()
    await asyncio.gather(*(n.wait_exit() for n in c.nodes.values()))
    await c.start()
    assert await c.wait_converged(revision=rev) == before
    counts = {(await n.call("hash"))["count"] for n in c.nodes.values()}
    assert counts == {1300}


async def test_add_and_remove_a_voter_while_writes_continue(cluster_factory):
    c = await cluster_factory(3)
    leader = await c.leader()
    writers = Writers(c, n=3)
    new = c.add_node()  # a fresh voter that knows the current members
    await new.start()
    res = await leader.call("add_voter", addr=new.addr, wait=30)
    assert new.addr in res["voters"] and len(res["voters"]) == 4
    victim = next(n for n in c.nodes.values() if n not in (leader, new))
    # Any member may ask; here the newest one asks for an old one to go.
    res = await new.call("remove_voter", addr=victim.addr, wait=30)
    assert victim.addr not in res["voters"] and len(res["voters"]) == 3
    await victim.stop()
    await asyncio.sleep(1.0)
    acked = await writers.stop()
    members = [n for n in c.nodes.values() if n is not victim]
    await c.wait_converged(members)
    for n in members:
        assert sorted((await n.status())["voters"]) == sorted(m.addr for m in members)
    await check_exactly_once(new, acked)


async def test_replica_holds_the_state_and_is_promoted_to_voter(cluster_factory):
    c = await cluster_factory(3)
    leader = await c.leader()
    await leader.call("bulk", n=300, concurrency=16, table="registers", wait=60)
    replica = c.add_node(replica=True)
    await replica.start()
    await c.wait_converged()
    st = await replica.status()
    assert st["role"] == "replica" and replica.addr not in st["voters"]
    assert (await replica.call("put", key="from-replica", value={}))["result"]["ok"]
    await replica.call("promote", wait=30)
    st = await replica.status()
    assert st["role"] in ("follower", "leader") and replica.addr in st["voters"]
    # It now votes: with 4 voters, losing the leader leaves 3, a majority.
    leader.kill()
    await leader.wait_exit()
    await c.leader(among=c.alive)
    assert (await replica.call("put", key="after-promotion", value={}))["result"]["ok"]
    await c.wait_converged()


async def test_a_node_with_the_wrong_secret_can_neither_join_nor_read(cluster_factory):
    c = await cluster_factory(3)
    leader = await c.leader()
    for i in range(10):
        await leader.call("put", key=f"secret-{i}", value={"i": i})
    term = (await leader.status())["term"]
    wrong = "not-the-cluster-secret"
    spy = c.add_node(replica=True, secret=wrong)
    intruder = c.add_node(secret=wrong)
    await c.start([spy, intruder])
    # Even with its address accepted as a voter, the intruder cannot take part.
    await leader.call("add_voter", addr=intruder.addr, wait=30)
    await asyncio.sleep(3.0)
    for bad in (spy, intruder):
        h = await bad.call("hash")
        assert h["revision"] == 0 and h["count"] == 0
        assert (await bad.status())["leader"] is None
        with pytest.raises(NodeError) as e:
            await bad.call("put", key="evil", value={}, timeout=1.0)
        assert e.value.code == "no_quorum"
    assert (await leader.call("put", key="still-works", value={}))["result"]["ok"]
    st = await leader.status()
    assert st["role"] == "leader" and st["term"] == term
    assert (await leader.call("get", key="evil"))["record"] is None


async def test_torn_journal_tail_is_cut_and_mid_journal_damage_refuses_to_start(
    cluster_factory,
):
    c = await cluster_factory(3)
    leader = await c.leader()
    for i in range(60):
        await leader.call("put", key=f"k{i}", value={"i": i})
    await c.wait_converged()
    victim = next(n for n in c.nodes.values() if n is not leader)
    victim.kill()
    await victim.wait_exit()
    journal = victim.data / "raft.journal"
    data = journal.read_bytes()
    journal.write_bytes(data[:-7])  # the last write never completed
    await victim.start()
    assert "torn tail" in victim.log_path.read_text()
    await leader.call("put", key="after-cut", value={})
    await c.wait_converged()

    victim.kill()
    await victim.wait_exit()
    data = bytearray(journal.read_bytes())
    data[len(data) // 3] ^= 0xFF  # damage with valid entries after it
    journal.write_bytes(bytes(data))
    with pytest.raises(NodeError) as e:
        await victim.start()
    assert e.value.code == "corrupt_journal" and "refusing to start" in e.value.message
    assert await victim.wait_exit() == 3


async def test_five_nodes_keep_writing_with_two_down(cluster_factory):
    c = await cluster_factory(5)
    leader = await c.leader()
    followers = [n for n in c.nodes.values() if n is not leader]
    for f in followers:
        assert (await f.call("put", key=f"from-{f.addr}", value={}))["result"]["ok"]
    writers = Writers(c, n=3)
    await asyncio.sleep(0.5)
    leader.kill()
    followers[0].kill()
    await asyncio.gather(leader.wait_exit(), followers[0].wait_exit())
    await c.leader(among=c.alive)
    await asyncio.sleep(1.0)
    acked = await writers.stop()
    await c.start([leader, followers[0]])
    await c.wait_converged()
    await check_exactly_once(leader, acked)
