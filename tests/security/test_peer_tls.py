"""Hole 5: a peer forwarding a caller's request (serial log, snapshots, image
upload — one relay) or a VM console verifies the other peer's certificate
against the fingerprint in its node record: a man in the middle at the peer's
address gets a refusal before any byte of the request, never the caller's token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from peer.api.app import build_app
from peer.context import PeerContext
from peer.vmhost import routes as vmhost_routes
from raft.store import LocalStore, put
from tests.peer.api.conftest import bearer
from tests.security.tlspeers import mitm_app, serve_tls

Client = Callable[..., Awaitable[TestClient[Any, Any]]]


async def _place_vm_on(store: LocalStore, url: str, fp: str) -> None:
    """vm1 runs on n2, whose node record says where it is and which certificate it shows."""
    port = int(url.rsplit(":", 1)[1])
    fp_colons = ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()
    await store.commit(
        [
            put(
                "nodes",
                "n2",
                {
                    "address": "127.0.0.1",
                    "api_port": port,
                    "state": "active",
                    "tls": {"sha256": fp_colons},
                },
            ),
            put("vms", "vm1", {"name": "vm1", "placement": "n2"}),
            put(
                "vm_status",
                "vm1",
                {"node": "n2", "state": "running", "console": {"vnc_socket": "/nonexistent"}},
            ),
        ]
    )


@pytest.mark.parametrize("genuine", [False, True], ids=["mitm", "genuine"])
async def test_a_forwarded_request_reaches_only_the_certificate_of_the_node_record(
    ctx: PeerContext,
    store: LocalStore,
    tokens: dict[str, str],
    aiohttp_client: Client,
    tmp_path: Path,
    genuine: bool,
) -> None:
    seen: list[dict[str, Any]] = []
    async with serve_tls(mitm_app(seen), tmp_path / "mitm") as mitm:
        # The record names the real host's certificate; something else answers there.
        real_fp = mitm.fp if genuine else "ab" * 32
        await _place_vm_on(store, mitm.url, real_fp)
        client = await aiohttp_client(build_app(ctx, extra_routes=[vmhost_routes]))
        resp = await client.get("/api/v1/vms/vm1/serial", headers=bearer(tokens["viewer"]))
        body = await resp.json()
    if genuine:
        assert resp.status == 200, body
        assert seen and seen[0]["headers"]["Authorization"] == f"Bearer {tokens['viewer']}"
        return
    assert seen == []  # not a byte of the request, so not the token
    assert resp.status == 502, body
    assert body["code"] == "peer_unverified"


async def test_a_console_is_not_relayed_to_a_man_in_the_middle(
    ctx: PeerContext,
    store: LocalStore,
    tokens: dict[str, str],
    aiohttp_client: Client,
    tmp_path: Path,
) -> None:
    seen: list[dict[str, Any]] = []
    async with serve_tls(mitm_app(seen), tmp_path / "mitm") as mitm:
        await _place_vm_on(store, mitm.url, "cd" * 32)
        client = await aiohttp_client(build_app(ctx, extra_routes=[vmhost_routes]))
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await client.ws_connect(
                "/api/v1/vms/vm1/console",
                protocols=("binary",),
                headers=bearer(tokens["operator"]),
            )
    assert seen == []  # the caller's token never left
    assert e.value.status == 502
