"""Hole 10: bytes that are not JSON (or not even UTF-8) are a 400, never a 500.

Every route that takes a JSON body is tried, the open ones (login, the join
handshake, adoption) included, with the caller an admin so that the guard gets
as far as reading the body.
"""

from __future__ import annotations

import pytest

from peer.api.app import all_routes, build_app
from peer.join import routes as join_routes
from peer.pairing import routes as pairing_routes
from tests.peer.api.conftest import bearer, client, ctx, store, tokens  # noqa: F401

BAD_BODIES = [
    pytest.param(b"\xff\xfe}", id="not-utf8"),
    pytest.param(b'{"name": "\xc3"}', id="truncated-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    pytest.param(b'{"size_bytes": ' + b"9" * 5000 + b"}", id="integer-too-long"),
    pytest.param(b'{"vcpus": NaN}', id="nan"),
]


def _body_routes() -> list[tuple[str, str]]:
    out = []
    for r in all_routes([join_routes, pairing_routes]):
        if r.body is not None and r.consumes == "application/json":
            path = r.path
            for p in r.path_params:
                path = path.replace("{" + p + "}", "x")
            out.append((r.method, path))
    return out


@pytest.fixture
async def jclient(ctx, aiohttp_client):  # noqa: F811
    return await aiohttp_client(build_app(ctx, extra_routes=[join_routes, pairing_routes]))


def test_there_are_routes_with_bodies() -> None:
    routes = _body_routes()
    assert ("POST", "/api/v1/auth/login") in routes
    assert ("POST", "/api/v1/cluster/join/hello") in routes
    assert len(routes) >= 15


@pytest.mark.parametrize("raw", BAD_BODIES)
async def test_every_body_route_answers_400_to_bad_bytes(jclient, tokens, raw, caplog):  # noqa: F811
    caplog.set_level("ERROR")
    bad = []
    for method, path in _body_routes():
        r = await jclient.request(
            method,
            path,
            data=raw,
            headers={**bearer(tokens["admin"]), "Content-Type": "application/json"},
        )
        body = await r.json()
        if r.status != 400 or body.get("code") not in ("invalid_json", "invalid_encoding"):
            bad.append(f"{method} {path}: {r.status} {body}")
    assert not bad, "\n".join(bad)
    assert "Traceback" not in caplog.text and not [
        rec for rec in caplog.records if rec.levelname == "ERROR"
    ]
