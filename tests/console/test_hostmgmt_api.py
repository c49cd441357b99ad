"""The /host routes in-process on a LocalStore, served on a real 0600 unix
socket (the local root admin) and over TCP (anyone else)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from peer.api.app import build_app
from peer.auth.passwords import hash_password
from peer.auth.roles import Role
from peer.auth.tokens import make_token
from peer.auth.users import user_value
from peer.config import NodeConfig
from peer.context import PeerContext
from peer.hostmgmt import host_routes
from peer.hostmgmt.manager import HostManager
from raft.store import LocalStore, put
from tests.util import LocalApi, wait_for

FAST = {"n": 2**4, "r": 1, "p": 1}
PASSWORD = "the-admin-pw-1"


@pytest.fixture(autouse=True)
def record_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTIX_HOST_ACTIONS", "record")


@pytest.fixture
async def ctx(tmp_path: Path) -> PeerContext:
    store = LocalStore("n1")
    await store.commit(
        [put("users", "admin", user_value(Role.ADMIN, hash_password(PASSWORD, **FAST)))]
    )
    return PeerContext(
        config=NodeConfig(data_dir=tmp_path / "data", cluster_name="test"),
        store=store,
        node_id="n1",
        hostname="host-n1",
        address="127.0.0.1",
    )


@pytest.fixture
async def local(ctx: PeerContext, tmp_path: Path) -> AsyncIterator[LocalApi]:
    """The app on a root-owned 0600 unix socket, as the daemon serves it."""
    app = build_app(ctx, extra_routes=host_routes(ctx))
    runner = web.AppRunner(app)
    await runner.setup()
    path = tmp_path / "peer.sock"
    old = os.umask(0o177)
    try:
        await web.UnixSite(runner, str(path)).start()
    finally:
        os.umask(old)
    yield LocalApi(path)
    await runner.cleanup()


async def call(api: LocalApi, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await asyncio.to_thread(api.call, method, path, body)


async def test_changes_are_refused_over_the_network_even_for_admins(
    ctx: PeerContext, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> None:
    tok = make_token("admin", Role.ADMIN, "t", None, created_by="admin")
    await ctx.store.commit([put("tokens", tok.id, tok.value)])
    client = await aiohttp_client(build_app(ctx, extra_routes=host_routes(ctx)))
    h = {"Authorization": f"Bearer {tok.token}"}
    r = await client.post("/api/v1/host/ssh", json={"action": "permanent"}, headers=h)
    assert r.status == 403 and (await r.json())["code"] == "local_only"
    r = await client.post("/api/v1/host/power", json={"action": "reboot"}, headers=h)
    assert r.status == 403
    r = await client.get("/api/v1/host/status", headers=h)
    assert r.status == 200 and (await r.json())["ssh"]["mode"] == "off"
    r = await client.get("/api/v1/host/status")
    assert r.status == 401


async def test_lockout_survives_a_peer_restart(ctx: PeerContext, local: LocalApi) -> None:
    for i in range(4):
        status, body = await call(local, "POST", "/host/auth", {"password": f"bad{i}"})
        assert status == 401 and f"({4 - i} attempts left)" in body["message"]
    status, body = await call(local, "POST", "/host/auth", {"password": "bad4"})
    assert status == 423 and body["code"] == "console_locked"
    # The state is the peer's file: a new manager (a restarted peer) still refuses.
    ctx.services["hostmgmt"] = HostManager(ctx)
    status, body = await call(local, "POST", "/host/auth", {"password": PASSWORD})
    assert status == 423
    state = json.loads((ctx.config.data_dir / "hostmgmt" / "state.json").read_text())
    assert state["console"]["locked_until"] > time.time() + 14 * 60
    assert (ctx.config.data_dir / "hostmgmt" / "state.json").stat().st_mode & 0o777 == 0o600
    assert (await call(local, "POST", "/host/console/unlock"))[0] == 204
    status, body = await call(local, "POST", "/host/auth", {"password": PASSWORD})
    assert status == 200 and body == {"user": "admin", "source": "cluster"}
    actions = [a.value["result"] for a in ctx.store.scan("audit")]
    assert actions.count("invalid_credentials") == 4 and "console_locked" in actions


async def test_ssh_timer_expires_in_the_peer_and_is_audited(
    ctx: PeerContext, local: LocalApi
) -> None:
    status, body = await call(local, "POST", "/host/ssh", {"action": "enable", "seconds": 1})
    assert status == 200 and body["mode"] == "timed" and body["control"] == "recorded"
    status, _ = await call(local, "POST", "/host/ssh", {"action": "enable", "minutes": 121})
    assert status == 422

    async def off() -> bool:
        return bool((await call(local, "GET", "/host/status"))[1]["ssh"]["mode"] == "off")

    deadline = time.monotonic() + 10
    while not await off():
        assert time.monotonic() < deadline, "the SSH timer did not end"
        await asyncio.sleep(0.1)
    audit = [(a.value["action"], a.value["user"]) for a in ctx.store.scan("audit")]
    assert ("ssh.expired", "peer@n1") in audit
    assert ("POST /api/v1/host/ssh", "root@local") in audit


async def test_ssh_timer_that_ended_while_the_peer_was_down_turns_ssh_off_at_start(
    ctx: PeerContext,
) -> None:
    state_dir = ctx.config.data_dir / "hostmgmt"
    state_dir.mkdir(parents=True)
    (state_dir / "state.json").write_text(
        json.dumps({"ssh": {"mode": "timed", "until": time.time() - 5, "since": time.time() - 65}})
    )
    mgr = HostManager(ctx)
    mgr.start()
    await asyncio.to_thread(
        wait_for, lambda: mgr.state.get("ssh")["mode"] == "off", 5, "SSH off at start"
    )


async def test_power_and_restart_are_recorded_not_executed_on_test_hosts(
    local: LocalApi,
) -> None:
    status, body = await call(local, "POST", "/host/power", {"action": "shutdown"})
    assert status == 202 and body["how"] == "recorded"
    status, body = await call(local, "POST", "/host/services/restart", {"service": "libvirt"})
    assert status == 200 and body["how"] == "recorded"
    st = (await call(local, "GET", "/host/status"))[1]
    assert st["last_recorded"]["action"] == "restart" and st["mode"] == "record"


async def test_setup_is_for_factory_hosts_only(local: LocalApi) -> None:
    status, body = await call(local, "POST", "/host/setup", {"password": "long-enough-1"})
    assert status == 409 and body["code"] == "already_set_up"
    status, body = await call(
        local, "POST", "/host/join", {"cluster_name": "other", "secret": "x" * 12}
    )
    assert status == 409 and body["code"] == "not_factory"


async def test_ssh_permanent_and_disable(ctx: PeerContext, local: LocalApi) -> None:
    status, body = await call(local, "POST", "/host/ssh", {"action": "permanent"})
    assert status == 200 and body["mode"] == "permanent" and body["remaining_s"] is None
    status, body = await call(local, "POST", "/host/ssh", {"action": "disable"})
    assert status == 200 and body["mode"] == "off" and not body["enabled"]
    lines = (ctx.config.data_dir / "hostmgmt" / "audit.log").read_text().splitlines()
    assert [json.loads(x)["action"] for x in lines][-2:] == ["ssh.permanent", "ssh.disable"]
