"""Live migration and maintenance on real hosts: real peers in namespaces, real
test guests (direct kernel boot, through the API) under TCG.

A guest that moves live keeps its memory: its ``QUANTIX-TICK n`` count goes on
where it was on the new host (a restarted guest would boot and count from 1).
At no sampled instant do two QEMUs of one VM both execute a guest (the incoming
one waits with vCPUs that never ran until the source's copy is gone).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chaos.lab import Host, Lab
from testkit.guest import MARKER
from testkit.labguest import guest_vm, register_test_guest, serial, ticks
from tests.labs import short_lab
from tests.peer.test_ha_lab import QemuSampler, api, running_on, three_voters
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("m") as lab:
        yield lab


def guests(lab: Lab, n: int) -> tuple[list[Host], dict[str, LocalApi], list[str]]:
    """A 3-host lab running ``n`` test guests, each past its second tick; the
    hosts' APIs by node id."""
    hosts = lab.up(3)
    wait_for(lambda: three_voters(hosts), 90, "3 voters")
    apis = {api(h).get("/peer")["node_id"]: api(h) for h in hosts}
    via = api(hosts[0])
    boot = register_test_guest(via)
    ids = []
    for i in range(n):
        status, body = via.post("/vms", guest_vm(f"mig{i}", boot, desired="running"))
        assert status == 201, body
        ids.append(body["id"])
    wait_for(lambda: all(running_on(hosts[0], v) for v in ids), 120, "the guests running")
    for v in ids:
        wait_for(lambda v=v: len(ticks(serial(apis, v))) >= 2, 120, f"{v} ticking")
    return hosts, apis, ids


def arrived_live(apis: dict[str, LocalApi], vm_id: str, last_tick: int) -> None:
    """The VM's current host holds the same guest: no boot in its log, and the
    count goes on past where it was before the move."""
    log = wait_for(lambda: (s := serial(apis, vm_id)) and ticks(s) and s, 60, "ticks there")
    assert MARKER not in log, f"{vm_id} booted again:\n{log[-500:]}"
    assert ticks(log)[0] > last_tick, f"{vm_id} counts from {ticks(log)[0]}, was at {last_tick}"


def test_a_running_guest_moves_live_and_keeps_counting(lab: Lab) -> None:
    hosts, apis, (vm,) = guests(lab, 1)
    via = api(hosts[0])
    source = running_on(hosts[0], vm)
    target = next(n for n in apis if n != source)
    with QemuSampler(hosts) as watch:
        last = ticks(serial(apis, vm))[-1]
        status, task = via.post(f"/vms/{vm}/migrate", {"node": target, "live": True})
        assert status == 202, task
        wait_for(lambda: running_on(hosts[0], vm) == target, 60, "the guest running on the target")
        done = wait_for(
            lambda: (t := via.get(f"/tasks/{task['id']}"))["state"] in ("done", "failed") and t,
            60,
            "the migrate task to end",
        )
    assert done["state"] == "done" and done["progress"] == 1.0, done
    # QEMU's figures: the guest paused for a moment only (the default limit is 300 ms).
    assert done["result"]["kind"] == "live" and done["result"]["downtime_ms"] < 1000, done
    arrived_live(apis, vm, last)
    assert watch.doubles == [], f"double runs: {watch.doubles[:5]}"

    def kinds() -> set[str]:
        events = via.get("/events?resource=vms&limit=500")["items"]
        return {e["kind"] for e in events if e["resource_id"] == vm}

    # The leader records the move once the target reports it (after the task).
    wait_for(lambda: {"vm.sent_live", "vm.migrated"} <= kinds(), 30, "the migration's events")
    assert via.get(f"/vms/{vm}")["migration"] is None


def maintenance(via: LocalApi, node: str, on: bool) -> None:
    status, body = via.call("PATCH", f"/nodes/{node}", {"maintenance": on})
    assert status == 200, body


def test_rolling_maintenance_of_every_host_keeps_the_guests_running(lab: Lab) -> None:
    hosts, apis, ids = guests(lab, 3)
    via = api(hosts[0])
    last: dict[str, int] = {}
    with QemuSampler(hosts) as watch:
        for node in sorted(apis):
            before = {v: running_on(hosts[0], v) for v in ids}
            for v in ids:
                last[v] = ticks(serial(apis, v))[-1]
            maintenance(via, node, True)

            def drained(node: str = node) -> bool:
                where = [running_on(hosts[0], v) for v in ids]
                return all(w not in (None, node) for w in where)

            wait_for(drained, 120, f"{node} drained with every guest running")
            for v, was in before.items():
                if was == node:
                    arrived_live(apis, v, last[v])
            maintenance(via, node, False)
    assert watch.doubles == [], f"double runs: {watch.doubles[:5]}"
    assert set(ids) <= watch.seen
    state: dict[str, Any] = via.get("/vms")
    assert all(v["status"]["state"] == "running" for v in state["items"])
