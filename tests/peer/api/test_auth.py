"""Authentication and roles as users rely on them."""

from __future__ import annotations

import re

import pytest

from peer.api.app import all_routes, build_app
from peer.auth.roles import Role
from peer.auth.users import ensure_initial_admin
from tests.peer.api.conftest import add_token, add_user, bearer, make_ctx

PASSWORD = "pw-" + "x" * 10


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", "x", path)


async def test_every_route_needs_credentials_and_enough_role(client, tokens):
    routes = all_routes()
    assert len(routes) > 40
    for r in routes:
        path = concrete(r.path)
        if r.role is None:
            continue
        resp = await client.request(r.method, path, json={} if r.mutating else None)
        assert resp.status == 401, f"{r.method} {r.path} answered {resp.status} without credentials"
        assert (await resp.json())["code"] == "unauthenticated"
        if r.role > Role.VIEWER:
            low = Role(r.role - 1).label
            resp = await client.request(
                r.method, path, json={} if r.mutating else None, headers=bearer(tokens[low])
            )
            assert resp.status == 403, f"{r.method} {r.path} let a {low} in ({resp.status})"
    open_routes = sorted(r.path for r in routes if r.role is None)
    assert open_routes == ["/api/v1/auth/login", "/api/v1/health"]


async def test_initial_admin_is_created_exactly_once(store, client):
    password = await ensure_initial_admin(store)
    assert password and len(password) >= 16
    assert await ensure_initial_admin(store) is None
    rec = store.get("users", "admin")
    assert password not in str(rec.value) and rec.value["password_hash"].startswith("scrypt$")
    r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    assert r.status == 200


async def login(client, user="alice", password=PASSWORD):
    r = await client.post("/api/v1/auth/login", json={"username": user, "password": password})
    return r


async def test_login_sets_a_strict_cookie_and_csrf_is_enforced(store, client):
    await add_user(store, "alice", Role.ADMIN)
    r = await login(client)
    assert r.status == 200
    body = await r.json()
    cookie = r.cookies["qx_session"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
    assert "password_hash" not in str(body)
    # The session id is not what the store keeps.
    assert store.get("sessions", cookie.value) is None and store.count("sessions") == 1
    jar = {"Cookie": f"qx_session={cookie.value}"}
    r = await client.get("/api/v1/auth/whoami", headers=jar)
    me = await r.json()
    assert me["via"] == "session" and me["csrf_token"] == body["csrf_token"]
    net = {"name": "lan", "bridge": "br0"}
    r = await client.post("/api/v1/pools", json={"name": "p"}, headers=jar)
    assert r.status == 403 and (await r.json())["code"] == "csrf_failed"
    r = await client.post(
        "/api/v1/pools",
        json={"name": "p"},
        headers={**jar, "X-CSRF-Token": "wrong"},
    )
    assert r.status == 403
    r = await client.post(
        "/api/v1/pools",
        json={"name": "p"},
        headers={**jar, "X-CSRF-Token": body["csrf_token"]},
    )
    assert r.status == 201, await r.text()
    del net
    # Logout ends the session everywhere.
    r = await client.post(
        "/api/v1/auth/logout", headers={**jar, "X-CSRF-Token": body["csrf_token"]}
    )
    assert r.status == 204
    assert (await client.get("/api/v1/auth/whoami", headers=jar)).status == 401


async def test_five_failures_lock_that_user_from_that_address(store, client):
    await add_user(store, "bob", Role.VIEWER)
    bobs_token = await add_token(store, "bob", Role.VIEWER)
    for _ in range(4):
        r = await login(client, "bob", "wrong-password")
        assert r.status == 401 and (await r.json())["code"] == "invalid_credentials"
    r = await login(client, "bob", "wrong-password")
    assert r.status == 423
    r = await login(client, "bob", PASSWORD)  # even the right password, from here
    assert r.status == 423 and (await r.json())["code"] == "account_locked"
    # Only password logins are locked: a stranger failing logins cannot switch
    # off the user's automation tokens.
    assert (await client.get("/api/v1/vms", headers=bearer(bobs_token))).status == 200
    # Failures are this peer's log, never the replicated audit table.
    assert not [a for a in store.scan("audit") if a.value["result"] != "ok"]


async def test_unknown_user_and_wrong_password_look_alike(store, client):
    await add_user(store, "carol", Role.VIEWER)
    a = await (await login(client, "nobody", "x")).json()
    b = await (await login(client, "carol", "x")).json()
    assert a == b


async def test_revoked_token_stops_working_on_another_peer(store, client, tmp_path, aiohttp_client):
    await add_user(store, "dave", Role.OPERATOR)
    admin = await add_token(store, "dave", Role.OPERATOR)
    r = await client.post(
        "/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers=bearer(admin)
    )
    assert r.status == 201
    created = await r.json()
    tok = created["token"]
    assert "hash" not in created and store.get("tokens", created["id"]).value["hash"] not in tok
    other = await aiohttp_client(build_app(make_ctx(store, tmp_path, "n2")))
    assert (await other.get("/api/v1/vms", headers=bearer(tok))).status == 200
    # A viewer token cannot do operator things, even though dave can.
    r = await other.post("/api/v1/vms/x/start", headers=bearer(tok))
    assert r.status == 403
    r = await client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer(admin))
    assert r.status == 204
    r = await other.get("/api/v1/vms", headers=bearer(tok))
    assert r.status == 401 and (await r.json())["code"] == "invalid_token"


async def test_token_role_cannot_exceed_the_creators(store, client, tokens):
    r = await client.post(
        "/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=bearer(tokens["operator"])
    )
    assert r.status == 403 and (await r.json())["code"] == "role_too_high"


async def test_expired_token_is_refused(store, client):
    await add_user(store, "erin", Role.VIEWER)
    tok = await add_token(store, "erin", Role.VIEWER, ttl=-1)
    r = await client.get("/api/v1/vms", headers=bearer(tok))
    assert r.status == 401


@pytest.mark.parametrize("header", ["Basic abc", "Bearer nope", "Bearer qx_abc_def"])
async def test_garbage_credentials_are_401_not_500(client, header):
    r = await client.get("/api/v1/vms", headers={"Authorization": header})
    assert r.status == 401


async def test_admin_manages_users_and_last_admin_is_kept(store, client, tokens):
    h = bearer(tokens["admin"])
    r = await client.post(
        "/api/v1/users", json={"name": "frank", "role": "viewer", "password": "short"}, headers=h
    )
    assert r.status == 422
    r = await client.post(
        "/api/v1/users",
        json={"name": "frank", "role": "viewer", "password": "long-enough-pw"},
        headers=h,
    )
    assert r.status == 201 and "password_hash" not in await r.text()
    r = await client.post(
        "/api/v1/users",
        json={"name": "frank", "role": "viewer", "password": "long-enough-pw"},
        headers=h,
    )
    assert r.status == 409 and (await r.json())["code"] == "already_exists"
    r = await client.delete("/api/v1/users/admin", headers=h)
    assert r.status == 409 and (await r.json())["code"] == "last_admin"
    r = await client.get("/api/v1/users", headers=h)
    assert all("password_hash" not in u for u in (await r.json())["items"])


async def test_concurrent_failures_all_count(store, client):
    import asyncio

    await add_user(store, "gina", Role.VIEWER)
    rs = await asyncio.gather(*(login(client, "gina", "bad") for _ in range(5)))
    assert sorted(r.status for r in rs)[-1] == 423  # compare-and-set retries: none lost
    assert (await login(client, "gina", PASSWORD)).status == 423


async def test_long_dead_tokens_are_cleaned_up_and_locks_say_when_to_retry(store, client):
    import time as _time

    from peer.auth.tokens import make_token
    from raft.store import put

    await add_user(store, "hank", Role.OPERATOR)
    old = make_token("hank", Role.VIEWER, "old", None, created_by="hank")
    await store.commit(
        [put("tokens", old.id, dict(old.value, revoked=True, revoked_at=_time.time() - 30 * 86400))]
    )
    live = await add_token(store, "hank", Role.OPERATOR)
    r = await client.post("/api/v1/tokens", json={"name": "new"}, headers=bearer(live))
    assert r.status == 201 and store.get("tokens", old.id) is None
    for _ in range(5):
        r = await login(client, "hank", "bad")
    r = await login(client, "hank", "bad")
    assert r.status == 423 and 0 < int(r.headers["Retry-After"]) <= 900
