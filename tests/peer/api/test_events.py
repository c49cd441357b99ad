"""Events: listed, streamed over a websocket, resumed from a revision."""

from __future__ import annotations

import asyncio
import os
from collections import deque

import aiohttp
import pytest
from aiohttp import web

from peer.api.app import build_app
from tests.peer.api.conftest import bearer, make_ctx


async def make_pool(client, h, name):
    r = await client.post("/api/v1/pools", json={"name": name}, headers=h)
    assert r.status == 201


async def receive(ws, n, timeout=5.0):
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append(await ws.receive_json())
    return out


async def test_every_api_write_is_an_event_listed_newest_first(client, tokens):
    h = bearer(tokens["admin"])
    await make_pool(client, h, "a")
    await make_pool(client, h, "b")
    r = await client.get("/api/v1/events?kind=pool.created", headers=h)
    items = (await r.json())["items"]
    assert [e["resource_id"] for e in items] == ["b", "a"]
    assert items[0]["user"] == "admin" and items[0]["node"] == "n1"


async def test_stream_is_live_and_resumes_from_a_revision(client, tokens):
    h = bearer(tokens["admin"])
    ws = await client.ws_connect("/api/v1/events/stream", headers=h)
    await make_pool(client, h, "a")
    (first,) = await receive(ws, 1)
    assert first["kind"] == "pool.created" and first["resource_id"] == "a"
    await ws.close()
    # Changes while disconnected are replayed from the last revision seen.
    await make_pool(client, h, "b")
    await make_pool(client, h, "c")
    ws = await client.ws_connect(
        f"/api/v1/events/stream?from_revision={first['revision']}", headers=h
    )
    got = await receive(ws, 2)
    assert [e["resource_id"] for e in got] == ["b", "c"]
    await ws.close()


async def test_resume_beyond_the_watch_history_falls_back_to_the_table(client, tokens, store):
    h = bearer(tokens["admin"])
    store._history = deque(maxlen=3)  # a tiny in-memory history
    start = store.revision
    for name in ("a", "b", "c", "d"):
        await make_pool(client, h, name)
    ws = await client.ws_connect(f"/api/v1/events/stream?from_revision={start}", headers=h)
    got = await receive(ws, 4)
    assert [e["resource_id"] for e in got] == ["a", "b", "c", "d"]
    await ws.close()


async def test_a_plain_get_of_the_stream_is_a_clean_400(client, tokens):
    r = await client.get("/api/v1/events/stream", headers=bearer(tokens["viewer"]))
    assert r.status == 400 and (await r.json())["code"] == "websocket_required"


async def test_stream_from_a_second_peer_sees_the_firsts_writes(
    client, tokens, store, tmp_path, aiohttp_client
):
    other = await aiohttp_client(build_app(make_ctx(store, tmp_path, "n2")))
    h = bearer(tokens["viewer"])
    ws = await other.ws_connect("/api/v1/events/stream?kind=pool.created", headers=h)
    await make_pool(client, bearer(tokens["admin"]), "z")
    (ev,) = await receive(ws, 1)
    assert ev["resource_id"] == "z"
    await ws.close()


async def test_metrics_report_requests_vms_and_raft(client, tokens):
    h = bearer(tokens["viewer"])
    await client.get("/api/v1/vms", headers=h)
    text = await (await client.get("/metrics", headers=h)).text()
    assert 'quantix_api_requests_total{method="GET",route="/api/v1/vms",status="200"}' in text
    assert "quantix_api_request_seconds_bucket" in text
    assert 'quantix_raft_role{role="leader"} 1.0' in text
    assert "quantix_raft_commit_index" in text and "quantix_raft_apply_lag" in text
    assert (await client.get("/metrics")).status == 401


@pytest.mark.parametrize(("mode", "status"), [(0o600, 200), (0o666, 401)])
async def test_unix_socket_is_local_admin_only_when_root_only(ctx, tmp_path, mode, status):
    if os.geteuid() != 0:
        pytest.skip("the rule is about root-owned sockets")
    runner = web.AppRunner(build_app(ctx))
    await runner.setup()
    path = str(tmp_path / "api.sock")
    await web.UnixSite(runner, path).start()
    os.chmod(path, mode)
    try:
        connector = aiohttp.UnixConnector(path=path)
        async with (
            aiohttp.ClientSession(connector=connector) as s,
            s.get("http://local/api/v1/auth/whoami") as r,
        ):
            assert r.status == status
            if status == 200:
                assert (await r.json()) == {
                    "user": "root@local",
                    "role": "admin",
                    "via": "local",
                    "token_id": None,
                    "csrf_token": None,
                }
    finally:
        await runner.cleanup()


async def test_a_cookie_stream_from_another_origin_is_refused(client, store, tokens):
    from peer.auth.sessions import make_session
    from raft.store import put

    sess = make_session("viewer")
    await store.commit([put("sessions", sess.key, sess.value)])
    jar = {"Cookie": f"qx_session={sess.sid}"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        await client.ws_connect(
            "/api/v1/events/stream", headers={**jar, "Origin": "https://evil.example"}
        )
    assert e.value.status == 403
    ws = await client.ws_connect("/api/v1/events/stream", headers=jar)
    await ws.close()
