"""The OpenAPI document: generated from the routes, complete, and honoured."""

from __future__ import annotations

import requests
from openapi_spec_validator import validate as validate_spec

from peer.api.app import all_routes, build_app
from peer.auth.roles import Role
from raft.store import LocalStore
from tests.peer.api.conformance import run_conformance
from tests.peer.api.conftest import add_token, add_user, make_ctx
from tests.peer.api.serve import ServedApp


async def test_document_covers_every_route_and_is_well_formed(client, tokens):
    r = await client.get(
        "/api/v1/openapi.json", headers={"Authorization": f"Bearer {tokens['viewer']}"}
    )
    doc = await r.json()
    validate_spec(doc)  # a valid OpenAPI 3.1 document, by the reference validator
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ops == {(r.method, r.path) for r in all_routes()}
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path, item in doc["paths"].items():
        for op in item.values():
            assert op["summary"] and op["responses"]["default"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(part[1:-1] for part in path.split("/") if part.startswith("{"))
            content = op.get("requestBody", {}).get("content", {})
            for ctype, media in content.items():
                if ctype == "application/json":
                    closed = media["schema"].get("additionalProperties") is False
                    assert closed, f"{path}: request bodies must be closed"
                else:  # a raw upload, streamed by its handler
                    assert media["schema"] == {"type": "string", "format": "binary"}, path


async def test_docs_page_is_self_contained(client, tokens):
    r = await client.get("/api/v1/docs", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    html = await r.text()
    assert r.status == 200 and "openapi.json" in html
    assert "http://" not in html and "https://" not in html  # no CDN


def test_schemathesis_finds_no_5xx_and_responses_conform(tmp_path):
    store = LocalStore("n1")
    with ServedApp(lambda: build_app(make_ctx(store, tmp_path))) as served:

        async def seed() -> str:
            await add_user(store, "admin", Role.ADMIN)
            return await add_token(store, "admin", Role.ADMIN)

        token = served.run(seed)
        assert isinstance(token, str)
        failures, calls = run_conformance(served.url, token, max_examples=8)
        assert not failures, "\n\n".join(failures)
        assert calls > 3 * len(all_routes())
        # The server survived the fuzzing.
        assert requests.get(f"{served.url}/api/v1/health", timeout=5).status_code == 200
