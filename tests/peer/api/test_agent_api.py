"""The agent's API calls without a guest: roles, refusals, the agent ISO."""

from __future__ import annotations

from pathlib import Path

from tests.peer.api.conftest import bearer


async def test_agent_calls_need_an_operator_and_a_hosted_vm(client, tokens, store):
    from raft.store import put

    await store.commit([put("vms", "v1", {"name": "v1", "placement": "n1"})])
    await store.commit([put("vm_status", "v1", {"node": "n1", "state": "running"})])
    body = {"command": ["true"]}
    r = await client.post("/api/v1/vms/v1/agent/exec", json=body, headers=bearer(tokens["viewer"]))
    assert r.status == 403
    r = await client.post(
        "/api/v1/vms/v1/agent/exec", json=body, headers=bearer(tokens["operator"])
    )
    # No hypervisor in this peer: a clear refusal, never a 500.
    assert r.status in (409, 503) and (await r.json())["code"] in (
        "no_hypervisor",
        "agent_not_connected",
    )
    r = await client.post(
        "/api/v1/vms/v1/agent/files/read",
        json={"path": "relative/path"},
        headers=bearer(tokens["operator"]),
    )
    assert r.status == 422
    r = await client.post(
        "/api/v1/vms/nope/agent/exec", json=body, headers=bearer(tokens["operator"])
    )
    assert r.status == 404


async def test_the_agent_iso_joins_the_image_library(client, tokens):
    op = bearer(tokens["operator"])
    # Pools are an admin's to make (under the allowed roots); the ISO is an operator's.
    r = await client.post("/api/v1/pools", json={"name": "isos"}, headers=bearer(tokens["admin"]))
    assert r.status == 201, await r.text()
    pool_dir = Path((await r.json())["path"])
    r = await client.post("/api/v1/images/agent-iso", json={"pool": "isos"}, headers=op)
    assert r.status == 201, await r.text()
    img = await r.json()
    assert img["kind"] == "iso" and img["state"] == "ready"
    data = (pool_dir / img["name"]).read_bytes()
    assert data[0x8001:0x8006] == b"CD001"  # ISO 9660
    assert b"!<arch>\ndebian-binary" in data  # the .deb inside
    r = await client.post("/api/v1/images/agent-iso", json={"pool": "isos"}, headers=op)
    assert r.status == 200 and (await r.json())["id"] == img["id"]
    images = (await (await client.get("/api/v1/images", headers=op)).json())["items"]
    assert [i["name"] for i in images] == [img["name"]]
