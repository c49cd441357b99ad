"""QuantumNet on real hosts: lab namespaces each running Open vSwitch (userspace
datapath) and ovn-controller, the central databases where the leader put them,
and real TCG test guests that ask DHCP for their address and ping each other
across hosts, by name, over a Geneve overlay."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from chaos.lab import Host, Lab
from testkit.guest import NET_PREFIX
from testkit.labguest import guest_vm, register_test_guest, serial
from tests.labs import short_lab
from tests.peer.test_ha_lab import api, running_on
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("n") as lab:
        yield lab


def lease(log: str) -> tuple[str, int] | None:
    m = re.search(rf"{NET_PREFIX} eth0 (\S+) (\d+)", log)
    return (m.group(1), int(m.group(2))) if m else None


def pinged(log: str, target: str) -> bool:
    return f"QUANTIX-PING {target} ok" in log


def networked(lab: Lab, n: int = 2) -> tuple[list[Host], dict[str, LocalApi]]:
    hosts = lab.up(n, data_net=True)

    def ready() -> bool:
        peers = [api(h).get("/peer") for h in hosts]
        return all((p.get("network") or {}).get("sb_remote") for p in peers)

    wait_for(ready, 120, "every host's OVN chassis pointed at the central databases")
    return hosts, {api(h).get("/peer")["node_id"]: api(h) for h in hosts}


def on_two_hosts(hosts: list[Host], apis: dict[str, LocalApi], ids: list[str]) -> None:
    """The two guests running on different hosts (moved live if the scheduler
    put them together)."""
    via = api(hosts[0])
    where = [wait_for(lambda v=v: running_on(hosts[0], v), 180, f"{v} running") for v in ids]
    if where[0] == where[1]:
        other = next(n for n in apis if n != where[0])
        status, body = via.post(f"/vms/{ids[1]}/migrate", {"node": other, "live": True})
        assert status == 202, body
        wait_for(lambda: running_on(hosts[0], ids[1]) == other, 240, "the move")


def test_guests_on_two_hosts_get_leases_and_reach_each_other_by_name(lab: Lab) -> None:
    hosts, apis = networked(lab)
    via = api(hosts[0])
    status, body = via.post("/networks", {"name": "blue", "cidr": "10.60.0.0/24"})
    assert status == 201, body
    boot = register_test_guest(via)
    ids = []
    for name, peer in (("alpha", "beta"), ("beta", "alpha")):
        cmd = f"{boot['cmdline']} qx.hostname={name} qx.ping={peer} qx.listen=8080"
        spec = guest_vm(name, {**boot, "cmdline": cmd}, desired="running")
        status, body = via.post("/vms", {**spec, "nics": [{"network": "blue"}]})
        assert status == 201, body
        assert body["nics"][0]["ip"].startswith("10.60.0.")
        ids.append(body["id"])
    on_two_hosts(hosts, apis, ids)
    fixed = {v: via.get(f"/vms/{v}")["nics"][0]["ip"] for v in ids}
    for v in ids:
        got = wait_for(lambda v=v: lease(serial(apis, v)), 120, f"{v}'s DHCP lease")
        # The address the cluster gave the NIC, and the overlay's MTU (Geneve's 58 bytes).
        assert got == (fixed[v], 1442), got
    wait_for(lambda: pinged(serial(apis, ids[0]), "beta"), 60, "alpha pinging beta by name")
    wait_for(lambda: pinged(serial(apis, ids[1]), "alpha"), 60, "beta pinging alpha by name")
