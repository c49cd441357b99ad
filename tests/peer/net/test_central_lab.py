"""Losing the host of OVN's central databases: the leader places them on another
host, which rebuilds the northbound database from the cluster state, and two
guests on the surviving hosts keep (or get back) their traffic across hosts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from chaos.lab import Lab
from testkit.labguest import guest_vm, register_test_guest, serial
from tests.labs import short_lab
from tests.peer.net.test_overlay_lab import lease, networked
from tests.peer.test_ha_lab import api, running_on
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab"), pytest.mark.slow]

PING = re.compile(r"QUANTIX-PING (\S+) (ok|lost)")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("c") as lab:
        yield lab


def test_the_central_host_killed_the_leader_places_it_again_and_traffic_goes_on(lab: Lab) -> None:
    hosts, apis = networked(lab, 3)
    by_node = {api(h).get("/peer")["node_id"]: h for h in hosts}
    central = next(n for n, h in by_node.items() if api(h).get("/peer")["network"]["central"])
    others = [n for n in by_node if n != central]
    via = api(by_node[others[0]])
    assert via.post("/networks", {"name": "blue", "cidr": "10.63.0.0/24"})[0] == 201
    boot = register_test_guest(via)
    ids = []
    for name, peer in (("alpha", "beta"), ("beta", "alpha")):
        cmd = f"{boot['cmdline']} qx.hostname={name} qx.ping={peer}"
        spec = {**guest_vm(name, {**boot, "cmdline": cmd}, desired="running"),
                "nics": [{"network": "blue"}]}  # fmt: skip
        status, body = via.post("/vms", spec)
        assert status == 201, body
        ids.append(body["id"])
    # One guest on each host that is not the central one.
    for vm, target in zip(ids, others, strict=True):
        where = wait_for(lambda vm=vm: running_on(by_node[others[0]], vm), 240, f"{vm} running")
        if where != target:
            status, body = via.post(f"/vms/{vm}/migrate", {"node": target, "live": True})
            assert status == 202, body
            wait_for(lambda vm=vm, t=target: running_on(by_node[others[0]], vm) == t, 240, "move")
    for vm in ids:
        wait_for(lambda vm=vm: lease(serial(apis, vm)), 120, f"{vm}'s lease")
    wait_for(lambda: "PING alpha ok" in serial(apis, ids[1]), 120, "beta pinging alpha")
    mark = len(serial(apis, ids[1]))
    lab.kill(by_node[central].name)

    def placed_elsewhere() -> str | None:
        for n in others:
            net = api(by_node[n]).get("/peer").get("network") or {}
            if net.get("central"):
                return n
        return None

    new = wait_for(placed_elsewhere, 120, "the central databases placed on a live host")
    assert new in others
    sock = by_node[new].data_dir / "ovn" / "run" / "ovnnb_db.sock"

    def rebuilt() -> bool:
        res = lab.exec(by_node[new].name, ["ovn-nbctl", f"--db=unix:{sock}", "--timeout=5",
                                           "lsp-list", "qx-blue"],
                       capture_output=True, text=True, timeout=15)  # fmt: skip
        return res.returncode == 0 and res.stdout.count("qxt") == 2

    wait_for(rebuilt, 60, "the northbound database rebuilt on the new central host")

    def answered_after(n: int) -> bool:
        tail = serial(apis_alive, ids[1])[mark:]
        return [m.group(2) for m in PING.finditer(tail)][-n:] == ["ok"] * n

    apis_alive = {n: a for n, a in apis.items() if n != central}
    wait_for(lambda: answered_after(5), 120, "beta reaching alpha again, 5 pings in a row")
    lost = [m.group(2) for m in PING.finditer(serial(apis_alive, ids[1])[mark:])].count("lost")
    print(f"pings lost while the central databases moved: {lost}")
