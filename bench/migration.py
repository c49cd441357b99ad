"""``migration_s``: live migration of a 256 MiB test guest between lab hosts.

The guest (testkit.guest, direct kernel boot through the API) counts on
its serial console; it is moved with the API's ``migrate`` action, round the
hosts, and timed from the call until its current placement runs it on the new
host. The task's ``result`` carries QEMU's own figures (transfer time, the
guest's pause). After every move the count must go on where it was: a guest
that booted again would start from 1, and the figure would not be a live one.
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any

from chaos.lab import Host
from testkit.guest import MARKER
from testkit.labguest import guest_vm, register_test_guest, serial, ticks
from testkit.localapi import LocalApi
from testkit.wait import wait_for


def _running_on(via: LocalApi, vm_id: str) -> str | None:
    v = via.get(f"/vms/{vm_id}")
    st = v.get("status") or {}
    here = st.get("node") == v.get("placement") and st.get("epoch") == v.get("placement_epoch")
    return str(st["node"]) if here and st.get("state") == "running" else None


def _on(via: LocalApi, vm_id: str, node: str) -> bool:
    return _running_on(via, vm_id) == node


def _ticking_log(apis: dict[str, LocalApi], vm_id: str) -> str | None:
    log = serial(apis, vm_id)
    return log if ticks(log) else None


def _ended(via: LocalApi, task_id: str) -> dict[str, Any] | None:
    t: dict[str, Any] = via.get(f"/tasks/{task_id}")
    return t if t["state"] in ("done", "failed") else None


def live_migration_figures(
    hosts: list[Host],
    memory_mib: int = 256,
    moves: int = 3,
    boot: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``boot``: the test guest's boot fields if already registered (else here)."""
    apis = {}
    for h in hosts:
        api = LocalApi(h.dir / "peer.sock", timeout=15)
        apis[str(api.get("/peer")["node_id"])] = api
    via = next(iter(apis.values()))
    if boot is None:
        boot = register_test_guest(via, pool_name="bench")
    status, body = via.post(
        "/vms", guest_vm("mig256", boot, memory_mib=memory_mib, desired="running")
    )
    if status != 201:
        raise RuntimeError(f"creating the test guest failed: {status} {body}")
    vm = str(body["id"])
    wait_for(lambda: _running_on(via, vm), 120, "the test guest running")
    wait_for(lambda: len(ticks(serial(apis, vm))) >= 2, 120, "the test guest ticking")
    walls: list[float] = []
    qemu: list[float] = []
    downtimes: list[int] = []
    restarted = 0
    for _ in range(moves):
        here = _running_on(via, vm)
        last = ticks(serial(apis, vm))[-1]
        target = next(n for n in sorted(apis) if n != here)
        t0 = time.monotonic()
        status, task = via.post(f"/vms/{vm}/migrate", {"node": target, "live": True})
        if status != 202:
            raise RuntimeError(f"migrate refused: {status} {task}")
        wait_for(partial(_on, via, vm, target), 120, "the guest on the target")
        walls.append(time.monotonic() - t0)
        done = wait_for(partial(_ended, via, str(task["id"])), 60, "the migrate task to end")
        assert done is not None  # wait_for returns only a truthy value
        result = done.get("result") or {}
        if result.get("seconds") is not None:
            qemu.append(float(result["seconds"]))
        if result.get("downtime_ms") is not None:
            downtimes.append(int(result["downtime_ms"]))
        log = wait_for(partial(_ticking_log, apis, vm), 60, "ticks on the target")
        assert log is not None
        restarted += int(MARKER in log or ticks(log)[0] <= last)
    via.call("DELETE", f"/vms/{vm}?force=true")
    return {
        "migration_s": round(statistics.median(walls), 2),
        "migration_max_s": round(max(walls), 2),
        "migration_qemu_s": round(statistics.median(qemu), 3) if qemu else None,
        "migration_downtime_ms_max": max(downtimes) if downtimes else None,
        "migration_moves": len(walls),
        "migration_guest_mib": memory_mib,
        "migration_guest_restarted": restarted,  # must be 0: every move was live
    }
