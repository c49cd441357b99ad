"""The networks resource: admin-only, and nothing stored that nothing acts on."""

from __future__ import annotations

import pytest

from tests.peer.api.conftest import bearer


async def test_a_bridge_network_is_created_by_an_admin_only(client, tokens):
    body = {"name": "lan", "bridge": "br0"}
    r = await client.post("/api/v1/networks", json=body, headers=bearer(tokens["operator"]))
    assert r.status == 403
    r = await client.post("/api/v1/networks", json=body, headers=bearer(tokens["admin"]))
    assert r.status == 201, await r.text()
    assert (await r.json())["type"] == "bridge"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "o", "bridge": "br0", "type": "ovs"}, "network_type_unsupported"),
        ({"name": "v", "bridge": "br0", "vlan": 10}, "network_vlan_unsupported"),
    ],
)
async def test_kinds_nothing_acts_on_are_refused_not_stored(client, tokens, store, body, code):
    r = await client.post("/api/v1/networks", json=body, headers=bearer(tokens["admin"]))
    assert r.status == 422
    assert (await r.json())["code"] == code
    assert store.get("networks", body["name"]) is None


async def test_a_vlan_cannot_be_patched_onto_a_bridge_network(client, tokens, store):
    admin = bearer(tokens["admin"])
    r = await client.post("/api/v1/networks", json={"name": "lan", "bridge": "br0"}, headers=admin)
    assert r.status == 201
    r = await client.patch("/api/v1/networks/lan", json={"vlan": 20}, headers=admin)
    assert r.status == 422
    assert store.get("networks", "lan").value["vlan"] is None
