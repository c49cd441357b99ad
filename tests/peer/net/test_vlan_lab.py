"""VLAN networks on real hosts: guests leave through each host's uplink bridge
(br-phy, the lab's data network) with their tag; two VLANs with the same subnet
stay apart. And the northbound database, wiped by hand on the central host, is
rebuilt from the cluster state while the guests keep their traffic."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from chaos.lab import Lab
from testkit.labguest import guest_vm, register_test_guest, serial
from tests.labs import short_lab
from tests.peer.net.test_overlay_lab import lease, networked, pinged
from tests.peer.test_ha_lab import api, running_on
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("v") as lab:
        yield lab


def lost_only(log: str, target: str) -> bool:
    return f"QUANTIX-PING {target} lost" in log and f"QUANTIX-PING {target} ok" not in log


def nbctl(lab: Lab, host: str, *args: str) -> str:
    sock = lab.host(host).data_dir / "ovn" / "run" / "ovnnb_db.sock"
    res = lab.exec(host, ["ovn-nbctl", f"--db=unix:{sock}", "--timeout=10", *args],
                   capture_output=True, text=True, timeout=20)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return str(res.stdout)


@pytest.mark.slow
def test_vlans_stay_apart_and_a_wiped_northbound_database_is_rebuilt(lab: Lab) -> None:
    hosts, apis = networked(lab)
    via = api(hosts[0])
    for tag in (10, 20):
        net = {"name": f"v{tag}", "type": "vlan", "vlan": tag, "cidr": "10.70.0.0/24"}
        status, body = via.post("/networks", net)
        assert status == 201, body
    boot = register_test_guest(via)
    # a and c on VLAN 10, b on VLAN 20 with c's address would be c's twin if the tags leaked.
    plan = [("a", "v10", "10.70.0.11"), ("c", "v10", "10.70.0.13"), ("b", "v20", "10.70.0.12")]
    ids = {}
    for name, net, ip in plan:
        cmd = f"{boot['cmdline']} qx.hostname={name} qx.ping=10.70.0.13,10.70.0.12"
        spec = guest_vm(name, {**boot, "cmdline": cmd}, desired="running")
        status, body = via.post("/vms", {**spec, "nics": [{"network": net, "ip": ip}]})
        assert status == 201, body
        ids[name] = body["id"]
    where = {n: wait_for(lambda v=v: running_on(hosts[0], v), 240, f"{n} running")
             for n, v in ids.items()}  # fmt: skip
    for n, v in ids.items():
        got = wait_for(lambda v=v: lease(serial(apis, v)), 120, f"{n}'s DHCP lease")
        assert got[0] == dict((p[0], p[2]) for p in plan)[n]
        assert got[1] == 1500  # a VLAN carries no tunnel header
    wait_for(lambda: pinged(serial(apis, ids["a"]), "10.70.0.13"), 90, "a reaching c on VLAN 10")
    log = serial(apis, ids["a"])
    assert lost_only(log, "10.70.0.12"), "a reached b across VLANs"
    print("placement:", where)
    # Wipe the northbound database on the central host: the projection comes back.
    central = next(h for h in hosts if api(h).get("/peer")["network"]["central"])
    for ls in ("qx-v10", "qx-v20"):
        nbctl(lab, central.name, "ls-del", ls)
    assert "qx-v10" not in nbctl(lab, central.name, "ls-list")
    wait_for(lambda: "qx-v10" in nbctl(lab, central.name, "ls-list"), 60, "NB rebuilt")
    mark = len(serial(apis, ids["a"]))

    def reaching_again() -> bool:
        return pinged(serial(apis, ids["a"])[mark:], "10.70.0.13")

    wait_for(reaching_again, 90, "a reaching c again after the rebuild")


def test_ovs_tools_present() -> None:
    # The lab's hosts run these; a missing package fails here first, clearly.
    for tool in ("ovn-nbctl", "ovn-controller", "ovs-vswitchd", "ethtool"):
        assert subprocess.run(["which", tool], capture_output=True).returncode == 0, tool
