"""HA over a real three-node RaftStore on loopback: the leader host dies; the new
leader restarts its HA VM elsewhere only after the dead host fenced itself."""

import asyncio
import time

import pytest

from peer.ha import HAManager, LeaseRenewer
from raft.node import RaftStore
from raft.pysyncobj_adapter import Tuning
from raft.store import put
from testkit.raftnode import free_ports
from tests.peer.scheduler.build import host, vm
from tests.util import async_wait_for

pytestmark = pytest.mark.xdist_group("ha-raft")

SECRET = "ha-unit-test-secret-0123"
# fence_after well above pysyncobj's election time (0.5-1 s), as with the defaults.
BEAT, FENCE, MARGIN = 0.3, 3.0, 0.6


async def test_dead_leader_host_is_fenced_before_its_vm_restarts_elsewhere(tmp_path):
    members = [f"127.0.0.1:{p}" for p in free_ports(3)]
    ids = ["n0", "n1", "n2"]
    stores = {
        nid: RaftStore(a, members, tmp_path / nid, SECRET, node_id=nid, tuning=Tuning(fsync=False))
        for nid, a in zip(ids, members, strict=True)
    }
    fenced_at: dict[str, float] = {}
    parts = []
    try:
        await asyncio.gather(*(s.start() for s in stores.values()))
        await async_wait_for(lambda: sum(s.is_leader for s in stores.values()) == 1, 15.0)
        victim = next(n for n, s in stores.items() if s.is_leader)
        ops = [put("pools", "shared", {"type": "dir", "shared": True})]
        ops += [put("nodes", h, v) for h, v in (host(n) for n in ids)]
        ops.append(put("vms", "web", vm("web", placement=victim, epoch=1, ha=True)[1]))
        await stores[victim].commit(ops)
        for nid, store in stores.items():
            renewer = LeaseRenewer(
                store,
                nid,
                heartbeat=BEAT,
                fence_after=FENCE,
                on_fence=lambda nid=nid: fenced_at.setdefault(nid, time.monotonic()),
            )
            ha = HAManager(store, nid, fence_after=FENCE, heartbeat=BEAT, margin=MARGIN)
            parts += [renewer, ha]
        tasks = [asyncio.create_task(p.run()) for p in parts]
        survivor = next(s for n, s in stores.items() if n != victim)
        await async_wait_for(lambda: len(survivor.scan("leases")) == 3, 10.0)

        await stores[victim].stop()  # the host dies (its peer keeps running, cut off)
        placed_at = None

        def moved():
            nonlocal placed_at
            rec = survivor.get("vms", "web")
            if rec.value["placement"] != victim and placed_at is None:
                placed_at = time.monotonic()
            return placed_at is not None

        await async_wait_for(moved, 20.0)
        rec = survivor.get("vms", "web").value
        assert rec["placement"] in set(ids) - {victim} and rec["placement_epoch"] == 2
        assert victim in fenced_at and fenced_at[victim] < placed_at
        assert set(fenced_at) == {victim}  # nobody else fenced
        for p in parts:
            p.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10.0)
    finally:
        for p in parts:
            p.stop()
        await asyncio.gather(*(s.stop() for s in stores.values()), return_exceptions=True)
