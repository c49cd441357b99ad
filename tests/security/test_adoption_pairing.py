"""Hole 1 (and 9's 409): adopting a factory host needs the pairing code on its
console. Without it: 403 and nothing changes; the cluster secret goes only to
the certificate that proved the code; a member answers 409 ``not_factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from discovery.adopt import AdoptPayload
from discovery.pairing import PairingBook, new_pairing_code, pairing_key
from peer.api.app import build_app
from peer.api.errors import ApiError
from peer.context import PeerContext
from peer.pairing import Pairing, adopt_with_code
from peer.pairing import routes as pairing_routes
from peer.peertls import unverified_ssl
from tests.security.tlspeers import Served, serve_tls

FACTORY = "f00d"
SECRET = "the-cluster-secret-" + "x" * 20
PAYLOAD = AdoptPayload("prod", "cid-1", "m1", "ee" * 32, SECRET)


@asynccontextmanager
async def factory_host(
    ctx: PeerContext, tmp_path: Path, code: str, adopted: list[AdoptPayload]
) -> AsyncIterator[Served]:
    """A factory host's API (the pairing routes) over TLS, in factory state."""

    async def accept(p: AdoptPayload) -> None:
        adopted.append(p)
        ctx.services.pop("pairing", None)

    app = build_app(ctx, extra_routes=[pairing_routes])
    async with serve_tls(app, tmp_path / "factory") as served:
        book = PairingBook(FACTORY, served.fp, pairing_key(code, FACTORY))
        ctx.services["pairing"] = Pairing(code, book, accept)
        yield served


async def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=unverified_ssl())) as s,
        s.post(url, json=body) as r,
    ):
        return r.status, await r.json()


async def test_with_the_code_the_host_is_adopted_and_gets_the_secret(
    ctx: PeerContext, tmp_path: Path
) -> None:
    code, adopted = new_pairing_code(), []
    async with factory_host(ctx, tmp_path, code, adopted) as f:
        answer = await adopt_with_code(f.url, FACTORY, code.lower().replace("-", " "), PAYLOAD)
    assert answer["status"] == "joining"
    assert adopted == [PAYLOAD] and adopted[0].secret == SECRET


@pytest.mark.parametrize("body", ["old", "forged"])
async def test_an_adoption_without_the_code_is_refused_and_changes_nothing(
    ctx: PeerContext, tmp_path: Path, body: str
) -> None:
    """What main accepted from anyone: a name and a secret of the caller's choosing."""
    adopted: list[AdoptPayload] = []
    evil = {
        "v": 1,
        "cluster_name": "evil",
        "cluster_id": "evil-1",
        "sponsor": "attacker",
        "secret": "attacker-chosen-secret",
    }
    if body == "forged":
        evil |= {"v": 2, "sponsor_fp": "aa" * 32, "challenge": "bb" * 32, "proof": "cc" * 32}
    async with factory_host(ctx, tmp_path, new_pairing_code(), adopted) as f:
        status, answer = await _post(f"{f.url}/api/v1/cluster/adopt", evil)
    assert status == 403, answer
    assert answer["code"] == "pairing_refused"
    assert adopted == []
    assert "pairing" in ctx.services  # still in factory state


async def test_a_wrong_code_is_refused_before_the_secret_is_sent(
    ctx: PeerContext, tmp_path: Path
) -> None:
    adopted: list[AdoptPayload] = []
    async with factory_host(ctx, tmp_path, "AAAA-BBBB-CCCC-DDDD", adopted) as f:
        with pytest.raises(ApiError) as e:
            await adopt_with_code(f.url, FACTORY, "AAAA-BBBB-CCCC-DDDE", PAYLOAD)
    assert (e.value.status, e.value.code) == (403, "pairing_refused")
    assert adopted == []


async def test_a_man_in_the_middle_relaying_the_pairing_gets_no_secret(
    ctx: PeerContext, tmp_path: Path
) -> None:
    """The MITM shows its own certificate and relays everything to the real
    factory host; the real host's proof is bound to its own certificate, so the
    adopter refuses and never sends the secret (nor does the host get adopted)."""
    code, adopted = new_pairing_code(), []
    seen: list[str] = []
    async with factory_host(ctx, tmp_path, code, adopted) as real:

        async def relay(request: web.Request) -> web.Response:
            body = await request.text()
            seen.append(body)
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=unverified_ssl())) as s,
                s.post(
                    real.url + request.path, data=body, headers={"Content-Type": "application/json"}
                ) as r,
            ):
                return web.Response(
                    body=await r.read(), status=r.status, content_type="application/json"
                )

        app = web.Application()
        app.router.add_post("/{tail:.*}", relay)
        async with serve_tls(app, tmp_path / "mitm") as mitm:
            with pytest.raises(ApiError) as e:
                await adopt_with_code(mitm.url, FACTORY, code, PAYLOAD)
    assert e.value.status == 403
    assert adopted == []
    assert seen and not any(SECRET in b for b in seen)


async def test_a_member_answers_409_not_factory(
    ctx: PeerContext, aiohttp_client: Callable[..., Awaitable[Any]]
) -> None:
    client = await aiohttp_client(build_app(ctx, extra_routes=[pairing_routes]))
    for path, body in (
        (
            "/api/v1/cluster/adopt",
            {"v": 1, "cluster_name": "x", "cluster_id": "y", "sponsor": "z", "secret": "s" * 20},
        ),
        ("/api/v1/cluster/adopt/hello", {"nonce": "ab" * 32}),
    ):
        resp = await client.post(path, json=body)
        assert resp.status == 409, await resp.text()
        assert (await resp.json())["code"] == "not_factory"
