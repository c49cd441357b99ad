"""State changes that are not API calls still become events."""

from __future__ import annotations

import asyncio

from peer.events.recorder import StateEventRecorder
from raft.store import LocalStore, put
from tests.util import async_wait_for


def kinds(store: LocalStore) -> list[str]:
    return [r.value["kind"] for r in sorted(store.scan("events"), key=lambda r: r.revision)]


async def test_vm_transitions_tasks_and_placements_are_recorded_once():
    store = LocalStore("n1")
    await store.commit(
        [
            put("vms", "v1", {"name": "web-1", "placement": None}),
            put("nodes", "n1", {"state": "active"}),
        ]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(StateEventRecorder(store, "n1").run(stop))
    await asyncio.sleep(0)
    await store.commit([put("vms", "v1", {"name": "web-1", "placement": "n1"})])
    await store.commit([put("vm_status", "v1", {"node": "n1", "state": "running"})])
    await store.commit([put("vm_status", "v1", {"node": "n1", "state": "running", "agent": {}})])
    await store.commit(
        [put("vm_status", "v1", {"node": "n1", "state": "error", "error": "disk gone"})]
    )
    await store.commit([put("vm_status", "v2", {"node": "n9", "state": "running"})])  # not ours
    await store.commit([put("nodes", "n1", {"state": "maintenance"})])
    await store.commit(
        [
            put(
                "tasks",
                "t1",
                {
                    "kind": "migrate",
                    "resource": "vms/v1",
                    "state": "failed",
                    "error": "no host fits",
                },
            )
        ]
    )
    want = ["vm.placed", "vm.state", "vm.state", "node.state", "task.failed"]
    await async_wait_for(lambda: kinds(store) == want, 5, f"events {want}")
    msgs = [r.value["message"] for r in store.scan("events")]
    assert "VM web-1 is error: disk gone" in msgs
    stop.set()
    await asyncio.wait_for(task, 5)
