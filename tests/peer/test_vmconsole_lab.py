"""A VM's console through any peer: the websocket at /api/v1/vms/{id}/console
answers with the guest's RFB greeting whether the browser reached the hosting
peer or another one (which relays to it with the caller's own credentials)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chaos.lab import Host, Lab
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    # Unix socket paths are limited to 107 bytes: keep the lab root short.
    root = Path(tempfile.mkdtemp(prefix="qxv", dir="/tmp"))
    lab = Lab("v" + secrets.token_hex(3), root)
    try:
        yield lab
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)


def api(h: Host) -> LocalApi:
    return LocalApi(h.dir / "peer.sock", timeout=15)


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # lab peers' certificates are self-signed
    return ctx


async def first_bytes(url: str, **kw: Any) -> tuple[str | None, bytes]:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls())) as s,
        s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5), **kw) as ws,
    ):
        msg = await asyncio.wait_for(ws.receive(), 20)
        return ws.protocol, msg.data if isinstance(msg.data, bytes) else b""


def test_console_websocket_from_the_hosting_peer_and_from_another(lab: Lab) -> None:
    hosts = lab.up(2)

    def formed() -> bool:
        c = api(hosts[0]).get("/cluster")
        return bool(c["leader"]) and sum(m["voter"] for m in c["members"]) == 2

    wait_for(formed, 60, "2 voters")
    status, tok = api(hosts[0]).post(
        "/tokens", {"name": "console-test", "user": "admin", "role": "operator"}
    )
    assert status == 201, tok
    token = tok["token"]
    status, vm = api(hosts[1]).post(
        "/vms", {"name": "con1", "vcpus": 1, "memory_mib": 64, "desired": "running"}
    )
    assert status in (200, 201), vm
    vm_id = vm["id"]

    def running() -> dict[str, Any] | None:
        status = api(hosts[0]).get(f"/vms/{vm_id}").get("status") or {}
        assert status.get("state") != "error", status
        return status if status.get("state") == "running" else None

    wait_for(running, 120, "the VM to run")
    where = api(hosts[0]).get(f"/vms/{vm_id}/console")
    host_of = {h.address: h for h in hosts}
    hosting = host_of[where["address"]]
    other = next(h for h in hosts if h is not hosting)
    path = f"api/v1/vms/{vm_id}/console"

    # Straight at the hosting peer, with a bearer token.
    proto, data = asyncio.run(
        first_bytes(hosting.url + path, headers={"Authorization": f"Bearer {token}"},
                    protocols=("binary",))
    )  # fmt: skip
    assert data.startswith(b"RFB 003.0"), data
    assert proto == "binary"
    # Through the other peer, the token as a subprotocol (as a browser sends it).
    proto, data = asyncio.run(
        first_bytes(other.url + path, protocols=("binary", f"qx-token.{token}"))
    )
    assert data.startswith(b"RFB 003.0"), data
    # No credentials: refused before any relaying.
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        asyncio.run(first_bytes(other.url + path, protocols=("binary",)))
    assert e.value.status == 401
