"""Security groups on real hosts: a guest in a group with no rule for a TCP
port is unreachable on it from a guest on another host; the rule added, the
same connection goes through, while ICMP (no rule) stays blocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.lab import Lab
from testkit.labguest import guest_vm, register_test_guest, serial
from tests.labs import short_lab
from tests.peer.net.test_overlay_lab import lease, networked, on_two_hosts
from tests.peer.test_ha_lab import api
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab"), pytest.mark.slow]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("s") as lab:
        yield lab


def test_a_security_group_blocks_a_tcp_port_then_allows_it(lab: Lab) -> None:
    hosts, apis = networked(lab)
    via = api(hosts[0])
    assert via.post("/networks", {"name": "blue", "cidr": "10.61.0.0/24"})[0] == 201
    assert via.post("/security_groups", {"name": "web", "rules": []})[0] == 201
    boot = register_test_guest(via)
    guests = [
        ("alpha", "qx.listen=8080", {"network": "blue", "groups": ["web"]}),
        ("beta", "qx.connect=alpha:8080 qx.ping=alpha", {"network": "blue"}),
    ]
    ids = []
    for name, extra, nic in guests:
        cmd = f"{boot['cmdline']} qx.hostname={name} {extra}"
        status, body = via.post(
            "/vms", {**guest_vm(name, {**boot, "cmdline": cmd}, desired="running"), "nics": [nic]}
        )
        assert status == 201, body
        ids.append(body["id"])
    on_two_hosts(hosts, apis, ids)
    for v in ids:
        wait_for(lambda v=v: lease(serial(apis, v)), 120, f"{v}'s DHCP lease")
    # Blocked: several refused tries after both have their addresses, none through.
    wait_for(lambda: serial(apis, ids[1]).count("CONNECT alpha:8080 refused") >= 3, 60, "tries")
    log = serial(apis, ids[1])
    assert "CONNECT alpha:8080 ok" not in log and "PING alpha ok" not in log
    mark = len(log)
    rule = {"protocol": "tcp", "port_min": 8080, "port_max": 8080}
    status, body = via.call("PATCH", "/security_groups/web", {"rules": [rule]})
    assert status == 200, body
    wait_for(lambda: "CONNECT alpha:8080 ok" in serial(apis, ids[1])[mark:], 60, "allowed")
    assert "PING alpha ok" not in serial(apis, ids[1])  # ICMP has no rule
