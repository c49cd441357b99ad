"""The route framework: errors as JSON, schema checks, the generated OpenAPI."""

from __future__ import annotations

import pytest

from peer.api.schema import SchemaDeclarationError, closed, validate
from tests.peer.api.conftest import bearer


async def test_health_is_open_and_says_nothing_secret(client):
    r = await client.get("/api/v1/health")
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "ok" and body["node_id"] == "n1"
    assert "X-Quantix-Revision" in r.headers


async def test_unknown_path_is_a_json_404(client, tokens):
    r = await client.get("/api/v1/nope", headers=bearer(tokens["viewer"]))
    assert r.status == 404
    assert (await r.json())["code"] == "not_found"


async def test_openapi_needs_a_login_and_lists_routes(client, tokens):
    assert (await client.get("/api/v1/openapi.json")).status == 401
    r = await client.get("/api/v1/openapi.json", headers=bearer(tokens["viewer"]))
    doc = await r.json()
    assert doc["openapi"] == "3.1.0"
    assert "get" in doc["paths"]["/api/v1/health"]
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []


def test_validator_rejects_unknown_fields_and_bad_values():
    s = closed(
        {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "memory_mib": {"type": "integer", "minimum": 1},
            },
        }
    )
    assert validate(s, {"name": "a", "memory_mib": 2}) == []
    assert validate(s, {"name": "a", "memory_mib": 0})[0]["path"] == "/memory_mib"
    assert validate(s, {"name": "a", "colour": "red"})[0]["problem"] == "is not a known field"
    assert validate(s, {})[0]["path"] == "/name"
    assert validate(s, {"name": "a", "memory_mib": True})  # a bool is not an integer


def test_a_schema_keyword_we_do_not_enforce_is_refused_at_declaration():
    with pytest.raises(SchemaDeclarationError):
        closed({"type": "string", "format": "date", "multipleOf": 2})


async def test_without_quorum_writes_are_503_and_local_reads_still_work(client, store, tokens):
    from raft.errors import NoQuorum

    async def refuse(cmd, timeout):
        raise NoQuorum("no leader")

    store._submit = refuse  # the cluster lost its majority
    h = bearer(tokens["admin"])
    r = await client.post("/api/v1/pools", json={"name": "p"}, headers=h)
    assert r.status == 503 and (await r.json())["code"] == "no_quorum"
    assert (await client.get("/api/v1/pools", headers=h)).status == 200
    r = await client.get("/api/v1/pools?consistent=true", headers=h)
    assert r.status == 503


async def test_bad_query_and_body_are_4xx_with_stable_codes(client, tokens):
    h = bearer(tokens["operator"])
    r = await client.get("/api/v1/vms?limit=0", headers=h)
    assert r.status == 422 and (await r.json())["code"] == "validation_failed"
    r = await client.get("/api/v1/vms?colour=red", headers=h)
    assert r.status == 400 and (await r.json())["code"] == "unknown_parameter"
    r = await client.post("/api/v1/vms", data="{not json", headers=h)
    assert r.status == 400 and (await r.json())["code"] == "invalid_json"
    r = await client.get("/api/v1/vms?cursor=%%%", headers=h)
    assert r.status == 400 and (await r.json())["code"] == "invalid_cursor"
    r = await client.put("/api/v1/vms", headers=h)
    assert r.status == 405 and (await r.json())["code"] == "method_not_allowed"


async def test_min_revision_waits_for_the_replica_to_catch_up(client, store, tokens):
    import asyncio

    from raft.store import put

    h = bearer(tokens["viewer"])
    target = store.revision + 1

    async def later_write():
        await asyncio.sleep(0.05)  # the write arrives while the read waits for it
        await store.commit([put("pools", "late", {"name": "late", "path": "/p"})])

    writer = asyncio.create_task(later_write())
    r = await client.get("/api/v1/pools", headers={**h, "X-Quantix-Min-Revision": str(target)})
    await writer
    assert [p["id"] for p in (await r.json())["items"]] == ["late"]
    r = await client.get("/api/v1/pools", headers={**h, "X-Quantix-Min-Revision": "soon"})
    assert r.status == 400 and (await r.json())["code"] == "bad_header"
