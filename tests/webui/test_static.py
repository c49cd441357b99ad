"""peer/webui_static.py: the built UI at / on every peer, and the VNC relay."""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from peer.api.app import build_app
from peer.auth.passwords import hash_password
from peer.auth.roles import Role
from peer.auth.tokens import make_token
from peer.auth.users import user_value
from peer.config import NodeConfig
from peer.context import PeerContext
from peer.webui_static import add_webui
from raft.store import LocalStore, put

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


def make_ctx(store: LocalStore, tmp_path: Path) -> PeerContext:
    config = NodeConfig(data_dir=tmp_path, cluster_name="test")
    return PeerContext(config=config, store=store, node_id="n1", hostname="h1", address="127.0.0.1")


async def add_token(store: LocalStore, user: str, role: Role) -> str:
    """A user with that role (cheap scrypt) and a bearer token for them."""
    pw = hash_password("pw-" + "x" * 10, n=2**4, r=1, p=1)
    t = make_token(user, role, "test", None, created_by=user)
    await store.commit([put("users", user, user_value(role, pw)), put("tokens", t.id, t.value)])
    return t.token


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_text("<!doctype html><title>Quantix</title><div id=root></div>")
    (d / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for you")
    return d


async def app_client(
    aiohttp_client: MakeClient, tmp_path: Path, dist: Path
) -> TestClient[Any, Any]:
    app = build_app(make_ctx(LocalStore("n1"), tmp_path))
    add_webui(app, dist)
    return await aiohttp_client(app)


async def test_client_routes_get_the_app_and_assets_are_cached_for_good(
    aiohttp_client: MakeClient, tmp_path: Path, dist: Path
) -> None:
    c = await app_client(aiohttp_client, tmp_path, dist)
    for path in ("/", "/vms/abc/console", "/hosts"):
        r = await c.get(path)
        assert r.status == 200
        assert "<title>Quantix</title>" in await r.text()
        assert r.headers["Cache-Control"] == "no-cache"
    r = await c.get("/assets/index-abc123.js")
    assert r.status == 200
    assert "immutable" in r.headers["Cache-Control"]
    # A stale hashed name is a 404, not the app shell (which would run as JS).
    assert (await c.get("/assets/index-old999.js")).status == 404


async def test_the_api_keeps_its_paths_and_files_outside_dist_stay_hidden(
    aiohttp_client: MakeClient, tmp_path: Path, dist: Path
) -> None:
    c = await app_client(aiohttp_client, tmp_path, dist)
    r = await c.get("/api/v1/health")
    assert r.status == 200 and (await r.json())["status"]
    r = await c.get("/api/v1/no-such-thing")
    assert r.status == 404 and (await r.json())["code"] == "not_found"
    r = await c.post("/api/v1/no-such-thing", json={})
    assert r.status == 404 and (await r.json())["code"] == "not_found"
    r = await c.post("/api/v1/health", json={})
    assert r.status == 405
    r = await c.get("/%2e%2e/secret.txt")
    assert "not for you" not in await r.text()
    r = await c.get("/assets/../../secret.txt")
    assert "not for you" not in await r.text()


async def test_a_peer_without_a_build_says_how_to_make_one(
    aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    c = await app_client(aiohttp_client, tmp_path, tmp_path / "nothing")
    r = await c.get("/vms")
    assert r.status == 503
    text = re.sub(r"<[^>]+>", "", await r.text())
    assert "The web UI has not been built: run make lab or make test" in text


@contextlib.asynccontextmanager
async def fake_vnc(path: Path) -> AsyncIterator[list[bytes]]:
    """A unix socket that greets like a VNC server and echoes what it receives."""
    got: list[bytes] = []

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"RFB 003.008\n")
        await w.drain()
        while data := await r.read(1024):
            got.append(data)
            w.write(data)
            await w.drain()
        w.close()

    server = await asyncio.start_unix_server(serve, str(path))
    try:
        yield got
    finally:
        server.close()
        await server.wait_closed()


async def test_the_console_relay_wants_an_operator_token_and_relays_bytes(
    aiohttp_client: MakeClient, tmp_path: Path, dist: Path
) -> None:
    store = LocalStore("n1")
    app = build_app(make_ctx(store, tmp_path))
    add_webui(app, dist)
    c = await aiohttp_client(app)
    op = await add_token(store, "op", Role.OPERATOR)
    viewer = await add_token(store, "view", Role.VIEWER)
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        sock = Path(d) / "vnc.sock"
        status = {"node": "n1", "state": "running", "console": {"vnc_socket": str(sock)}}
        await store.commit([put("vm_status", "vm1", status)])

        async def refused(protocols: tuple[str, ...]) -> int:
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                await c.ws_connect("/webui/vnc/vm1", protocols=protocols)
            return e.value.status

        assert await refused(("binary",)) == 401
        assert await refused(("binary", "qx-token.qx_bogus_token")) == 401
        assert await refused(("binary", f"qx-token.{viewer}")) == 403
        async with fake_vnc(sock) as got:
            ws = await c.ws_connect("/webui/vnc/vm1", protocols=("binary", f"qx-token.{op}"))
            assert ws.protocol == "binary"
            first = await asyncio.wait_for(ws.receive_bytes(), 5)
            assert first == b"RFB 003.008\n"
            await ws.send_bytes(b"RFB 003.008\n")
            assert await asyncio.wait_for(ws.receive_bytes(), 5) == b"RFB 003.008\n"
            await ws.close()
            assert got == [b"RFB 003.008\n"]
        # A VM hosted elsewhere: the browser must ask that peer.
        await store.commit([put("vm_status", "vm2", {**status, "node": "n2"})])
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await c.ws_connect("/webui/vnc/vm2", protocols=("binary", f"qx-token.{op}"))
        assert e.value.status == 409
