"""Hole 9: a schema pattern matches the whole string. With ``re.search`` a
``$`` also matched before a trailing newline, so ``"bob\\n"`` passed as a user
name and ``"web\\n"`` as a VM name."""

from __future__ import annotations

import pytest

from peer.api.schema import SchemaDeclarationError, closed, validate
from tests.peer.api.conftest import bearer, client, ctx, store, tokens  # noqa: F401


async def test_a_trailing_newline_is_refused_in_names(client, tokens):  # noqa: F811
    h = bearer(tokens["admin"])
    r = await client.post(
        "/api/v1/users", json={"name": "bob\n", "role": "viewer", "password": "p" * 16}, headers=h
    )
    assert r.status == 422, await r.text()
    r = await client.post(
        "/api/v1/vms", json={"name": "web\n", "vcpus": 1, "memory_mib": 64}, headers=h
    )
    assert r.status == 422, await r.text()
    assert (await r.json())["details"]["errors"][0]["path"] == "/name"


def test_patterns_match_whole_strings_and_are_declared_anchored():
    schema = {"type": "string", "pattern": "^[a-z]+$"}
    assert validate(schema, "abc") == []
    assert validate(schema, "abc\n") != []
    with pytest.raises(SchemaDeclarationError):
        closed({"type": "string", "pattern": "[a-z]+"})
