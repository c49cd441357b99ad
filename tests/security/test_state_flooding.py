"""Hole 8: a stranger cannot fill the replicated state or tie up a peer.

On the parent commit every refused call (a failed login, a bad token, junk on
an open route) committed an audit record, and the failed-login counters were
committed too; every mDNS factory announcement became a ``discovered`` record;
an event stream's queue had no bound; and a request waited up to 5 s for
``X-Quantix-Min-Revision`` before it was even authenticated.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import aiohttp

from discovery.model import Announcement, SeenHost
from discovery.table import MAX_HOSTS, HostTable
from peer.api.resources.events import MAX_STREAMS_PER_USER
from peer.auth.roles import Role
from peer.node_record import ADD_PER_PASS, MAX_DISCOVERED, NodeRecorder
from tests.peer.api.conftest import add_user, bearer, client, ctx, store, tokens  # noqa: F401


async def test_unauthenticated_failures_commit_nothing(client, store):  # noqa: F811
    for name in ("admin", "u0", "u1", "u2"):
        await add_user(store, name, Role.ADMIN)  # cheap hashes: the test is not about cost
    before = store.revision
    for i in range(30):
        r = await client.post(
            "/api/v1/auth/login", json={"username": f"u{i % 3}", "password": "guess"}
        )
        assert r.status in (401, 423, 429)
        r = await client.post(
            "/api/v1/vms", json={"name": "x"}, headers={"Authorization": "Bearer qx_bad_token"}
        )
        assert r.status == 401
        r = await client.post("/api/v1/auth/login", data=b"\xff\xfe}")
        assert r.status == 400
    assert store.revision == before
    assert store.count("audit") == 0


async def test_min_revision_waits_only_after_authentication(client, tokens):  # noqa: F811
    # (tokens made the users with cheap hashes: the login below checks quickly)
    far = {"X-Quantix-Min-Revision": str(10**9)}
    started = time.monotonic()
    r = await client.get("/api/v1/vms", headers=far)
    assert r.status == 401 and time.monotonic() - started < 2.0
    r = await client.post(
        "/api/v1/auth/login", json={"username": "viewer", "password": "b"}, headers=far
    )
    assert r.status == 401 and time.monotonic() - started < 4.0  # not the 5 s wait


async def test_event_streams_per_user_are_capped(client, tokens):  # noqa: F811
    h = bearer(tokens["viewer"])
    open_ = [
        await client.ws_connect("/api/v1/events/stream", headers=h)
        for _ in range(MAX_STREAMS_PER_USER)
    ]
    try:
        try:
            extra = await client.ws_connect("/api/v1/events/stream", headers=h)
            await extra.close()
            raise AssertionError("one stream too many was accepted")
        except aiohttp.WSServerHandshakeError as e:
            assert e.status == 429
        # Another user is not affected.
        other = await client.ws_connect("/api/v1/events/stream", headers=bearer(tokens["admin"]))
        await other.close()
    finally:
        for ws in open_:
            await ws.close()
    await asyncio.sleep(0)


def _factory(i: int) -> SeenHost:
    info = Announcement(
        node_id=f"fake-{i:04d}", cluster_name="", api_port=8443, raft_port=8444,
        version="1", role="factory", hostname=f"fake{i}",
    )  # fmt: skip
    return SeenHost(info, f"10.9.{i // 250}.{i % 250 + 1}", float(i), float(i))


async def test_fake_mdns_hosts_reach_the_state_slowly_and_capped(ctx, store):  # noqa: F811
    hosts = [_factory(i) for i in range(1000)]
    ctx.services["discovery"] = SimpleNamespace(hosts=lambda: hosts)
    rec = NodeRecorder(ctx, membership=None)  # type: ignore[arg-type]
    await rec._record_discovered()
    assert store.count("discovered") == ADD_PER_PASS
    for _ in range(100):
        await rec._record_discovered()
    assert store.count("discovered") == MAX_DISCOVERED
    table = HostTable()
    for h in hosts:
        table.upsert(f"{h.node_id}._quantix._tcp.local.", h.info, h.address)
    assert len(table.hosts()) == MAX_HOSTS
