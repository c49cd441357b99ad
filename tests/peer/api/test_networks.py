"""The networks resource: admin-only, every field acted on or refused, and NIC
addresses that are never given twice."""

from __future__ import annotations

import pytest

from peer.net.model import ip_key
from tests.peer.api.conftest import bearer
from tests.peer.api.test_vms import add_node

OVERLAY = {"name": "blue", "cidr": "10.9.0.0/24"}


async def test_a_network_is_changed_by_an_admin_only(client, tokens):
    r = await client.post("/api/v1/networks", json=OVERLAY, headers=bearer(tokens["operator"]))
    assert r.status == 403
    r = await client.post("/api/v1/networks", json=OVERLAY, headers=bearer(tokens["admin"]))
    assert r.status == 201, await r.text()
    net = await r.json()
    assert (net["type"], net["gateway"], net["mtu"], net["dhcp"]) == (
        "overlay", "10.9.0.1", 1442, True)  # fmt: skip


async def test_a_bridge_only_body_is_still_a_bridge_network(client, tokens):
    body = {"name": "lan", "bridge": "br0"}
    r = await client.post("/api/v1/networks", json=body, headers=bearer(tokens["admin"]))
    assert r.status == 201 and (await r.json())["type"] == "bridge"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "o", "bridge": "br0", "type": "ovs"}, None),  # no such kind
        ({"name": "v", "bridge": "br0", "vlan": 10}, "/vlan"),  # a tag the bridge decides
        ({"name": "v", "type": "vlan", "cidr": "10.1.0.0/24"}, "/vlan"),  # no tag
        ({"name": "o", "type": "overlay"}, "/cidr"),  # no subnet
        ({"name": "o", "cidr": "10.1.0.0/24", "vlan": 5}, "/vlan"),
        ({"name": "o", "cidr": "10.1.0.0/24", "gateway": "10.2.0.1"}, "/gateway"),
        ({"name": "o", "cidr": "10.1.0.1/24"}, "/cidr"),  # host bits set
    ],
)
async def test_what_nothing_would_act_on_is_refused_not_stored(client, tokens, store, body, path):
    r = await client.post("/api/v1/networks", json=body, headers=bearer(tokens["admin"]))
    assert r.status == 422, await r.text()
    if path:
        assert (await r.json())["details"]["path"] == path
    assert store.get("networks", body["name"]) is None


async def test_a_vlan_is_patched_only_onto_a_vlan_network(client, tokens, store):
    admin = bearer(tokens["admin"])
    await client.post("/api/v1/networks", json={"name": "lan", "bridge": "br0"}, headers=admin)
    vl = {"name": "v10", "type": "vlan", "vlan": 10, "cidr": "10.10.0.0/24"}
    assert (await client.post("/api/v1/networks", json=vl, headers=admin)).status == 201
    r = await client.patch("/api/v1/networks/lan", json={"vlan": 20}, headers=admin)
    assert r.status == 422
    r = await client.patch("/api/v1/networks/v10", json={"vlan": 20}, headers=admin)
    assert r.status == 200 and store.get("networks", "v10").value["vlan"] == 20


async def _vm(client, h, name, net, ip=None):
    nic = {"network": net, **({"ip": ip} if ip else {})}
    body = {"name": name, "vcpus": 1, "memory_mib": 64, "nics": [nic]}
    return await client.post("/api/v1/vms", json=body, headers=h)


async def test_nics_get_distinct_fixed_addresses_released_on_delete(client, tokens, store):
    await add_node(store)
    admin, op = bearer(tokens["admin"]), bearer(tokens["operator"])
    small = {"name": "tiny", "cidr": "10.8.0.0/29"}  # 6 hosts, one the gateway
    assert (await client.post("/api/v1/networks", json=small, headers=admin)).status == 201
    ips = []
    for i in range(5):
        r = await _vm(client, op, f"v{i}", "tiny")
        assert r.status == 201, await r.text()
        nic = (await r.json())["nics"][0]
        assert nic["port"].startswith("qxt")
        ips.append(nic["ip"])
    assert len(set(ips)) == 5 and "10.8.0.1" not in ips
    r = await _vm(client, op, "full", "tiny")
    assert r.status == 422 and (await r.json())["code"] == "network_full"
    vm0 = (await (await client.get("/api/v1/vms?limit=100", headers=op)).json())["items"]
    victim = next(v for v in vm0 if v["name"] == "v2")
    assert (await client.delete(f"/api/v1/vms/{victim['id']}", headers=op)).status == 204
    assert store.get("meta", ip_key("tiny", victim["nics"][0]["ip"])) is None
    r = await _vm(client, op, "again", "tiny", ip=victim["nics"][0]["ip"])
    assert r.status == 201, await r.text()


async def test_an_address_asked_for_twice_is_refused(client, tokens, store):
    await add_node(store)
    admin, op = bearer(tokens["admin"]), bearer(tokens["operator"])
    assert (await client.post("/api/v1/networks", json=OVERLAY, headers=admin)).status == 201
    assert (await _vm(client, op, "a", "blue", ip="10.9.0.50")).status == 201
    r = await _vm(client, op, "b", "blue", ip="10.9.0.50")
    assert r.status == 422 and (await r.json())["code"] == "ip_taken"
    r = await _vm(client, op, "c", "blue", ip="10.9.0.1")  # the gateway's
    assert r.status == 422


async def test_security_groups_are_checked_and_refused_while_in_use(client, tokens, store):
    await add_node(store)
    admin, op = bearer(tokens["admin"]), bearer(tokens["operator"])
    sg = {"name": "web", "rules": [{"protocol": "tcp", "port_min": 80}]}
    r = await client.post("/api/v1/security_groups", json=sg, headers=op)
    assert r.status == 403
    r = await client.post("/api/v1/security_groups", json=sg, headers=admin)
    assert r.status == 201, await r.text()
    assert (await r.json())["rules"][0] == {
        "direction": "ingress", "protocol": "tcp", "port_min": 80, "port_max": 80,
        "cidr": "0.0.0.0/0", "group": None}  # fmt: skip
    bad = {"name": "x", "rules": [{"protocol": "icmp", "port_min": 1}]}
    assert (await client.post("/api/v1/security_groups", json=bad, headers=admin)).status == 422
    bad = {"name": "x", "rules": [{"protocol": "tcp", "group": "nope"}]}
    assert (await client.post("/api/v1/security_groups", json=bad, headers=admin)).status == 422
    assert (await client.post("/api/v1/networks", json=OVERLAY, headers=admin)).status == 201
    await client.post("/api/v1/networks", json={"name": "lan", "bridge": "br0"}, headers=admin)
    body = {"name": "v", "vcpus": 1, "memory_mib": 64}
    r = await client.post(
        "/api/v1/vms", json={**body, "nics": [{"network": "lan", "groups": ["web"]}]}, headers=op
    )
    assert r.status == 422  # a bridge network cannot enforce it
    r = await client.post(
        "/api/v1/vms", json={**body, "nics": [{"network": "blue", "groups": ["nope"]}]}, headers=op
    )
    assert r.status == 422
    r = await client.post(
        "/api/v1/vms", json={**body, "nics": [{"network": "blue", "groups": ["web"]}]}, headers=op
    )
    assert r.status == 201 and (await r.json())["nics"][0]["groups"] == ["web"]
    r = await client.delete("/api/v1/security_groups/web", headers=admin)
    assert r.status == 409
