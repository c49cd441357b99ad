"""A VM's console through any peer: the websocket at /api/v1/vms/{id}/console
answers with the guest's RFB greeting whether the browser reached the hosting
peer or another one (which relays to it with the caller's own credentials)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chaos.lab import Lab
from tests.labs import host_api, lab_tls, short_lab
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("v") as lab:
        yield lab


async def first_bytes(url: str, **kw: Any) -> tuple[str | None, bytes]:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=lab_tls())) as s,
        s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5), **kw) as ws,
    ):
        msg = await asyncio.wait_for(ws.receive(), 20)
        return ws.protocol, msg.data if isinstance(msg.data, bytes) else b""


def test_console_websocket_from_the_hosting_peer_and_from_another(lab: Lab) -> None:
    hosts = lab.up(2)

    def formed() -> bool:
        c = host_api(hosts[0]).get("/cluster")
        return bool(c["leader"]) and sum(m["voter"] for m in c["members"]) == 2

    wait_for(formed, 60, "2 voters")
    status, tok = host_api(hosts[0]).post(
        "/tokens", {"name": "console-test", "user": "admin", "role": "operator"}
    )
    assert status == 201, tok
    token = tok["token"]
    status, vm = host_api(hosts[1]).post(
        "/vms", {"name": "con1", "vcpus": 1, "memory_mib": 64, "desired": "running"}
    )
    assert status in (200, 201), vm
    vm_id = vm["id"]

    def running() -> dict[str, Any] | None:
        status = host_api(hosts[0]).get(f"/vms/{vm_id}").get("status") or {}
        assert status.get("state") != "error", status
        return status if status.get("state") == "running" else None

    wait_for(running, 120, "the VM to run")
    where = host_api(hosts[0]).get(f"/vms/{vm_id}/console")
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


def test_serial_log_and_snapshots_through_any_peer(lab: Lab) -> None:
    hosts = lab.up(2)

    def formed() -> bool:
        c = host_api(hosts[0]).get("/cluster")
        return bool(c["leader"]) and sum(m["voter"] for m in c["members"]) == 2

    wait_for(formed, 60, "2 voters")
    status, tok = host_api(hosts[0]).post("/tokens", {"name": "snap", "user": "admin"})
    assert status == 201, tok
    auth = {"Authorization": f"Bearer {tok['token']}"}
    # A directory every host sees (the lab's stand-in for NFS).
    status, pool = host_api(hosts[0]).post(
        "/pools", {"name": "shared", "root": "shared", "shared": True}
    )
    assert status == 201, pool
    spec = {"name": "snap1", "vcpus": 1, "memory_mib": 64, "desired": "running"}
    disk = {"size_gib": 1, "pool": "shared"}
    status, vm = host_api(hosts[0]).post("/vms", {**spec, "disks": [disk]})
    assert status in (200, 201), vm
    vm_id = vm["id"]

    def running() -> dict[str, Any] | None:
        status = host_api(hosts[0]).get(f"/vms/{vm_id}").get("status") or {}
        assert status.get("state") != "error", status
        return status if status.get("state") == "running" else None

    node = wait_for(running, 120, "the VM to run")["node"]
    by_id = {host_api(h).get("/peer")["node_id"]: h for h in hosts}
    other = next(h for nid, h in by_id.items() if nid != node)
    base = other.url + f"api/v1/vms/{vm_id}"

    async def calls() -> list[tuple[int, Any]]:
        out = []
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=lab_tls()), headers=auth
        ) as s:
            for method, url, body in [
                ("GET", base + "/serial?offset=0", None),
                ("POST", base + "/snapshots", {"name": "before"}),
                ("GET", base + "/snapshots", None),
                ("POST", base + "/snapshots/before/revert", None),
                ("POST", base + "/snapshots", {"name": "bad name!"}),
                ("DELETE", base + "/snapshots/before", None),
                ("GET", base + "/snapshots", None),
                ("DELETE", base + "/snapshots/nope", None),
            ]:
                async with s.request(method, url, json=body) as r:
                    out.append((r.status, await r.json() if r.status != 204 else None))
        return out

    (serial, made, listed, reverted, bad, deleted, after, missing) = asyncio.run(calls())
    assert serial[0] == 200 and isinstance(serial[1]["data"], str), serial
    assert made[0] == 201, made
    assert listed[0] == 200 and [s["name"] for s in listed[1]["items"]] == ["before"], listed
    assert reverted[0] == 200, reverted
    assert bad[0] == 422 and bad[1]["code"] == "validation_failed", bad
    assert deleted[0] == 204, deleted
    assert after[1]["items"] == [], after
    assert 400 <= missing[0] < 500 and missing[1]["code"], missing


def test_image_import_with_checksum_then_a_vm_disk_from_it(lab: Lab) -> None:
    hosts = lab.up(2)
    wait_for(lambda: host_api(hosts[0]).get("/cluster")["leader"], 60, "a leader")
    status, _ = host_api(hosts[0]).post(
        "/pools", {"name": "shared", "root": "shared", "shared": True}
    )
    assert status == 201
    src = lab.shared_dir / "source.img"  # an admin's import: inside an allowed root
    data = secrets.token_bytes(3 * 1024 * 1024)
    src.write_bytes(data)
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    body = {"name": "tiny", "kind": "disk", "pool": "shared", "source_url": f"file://{src}"}
    status, good = host_api(hosts[0]).post("/images", {**body, "sha256": digest})
    assert status == 201, good
    status, bad = host_api(hosts[0]).post("/images", {**body, "name": "bad", "sha256": "0" * 64})
    assert status == 201, bad

    def state(image_id: str) -> str | None:
        s = host_api(hosts[0]).get(f"/images/{image_id}").get("state")
        return s if s in ("ready", "error") else None

    got = wait_for(lambda: state(good["id"]), 60, "the import")
    assert got == "ready", host_api(hosts[0]).get(f"/images/{good['id']}").get("error")
    assert wait_for(lambda: state(bad["id"]), 60, "the bad import") == "error"
    img = host_api(hosts[0]).get(f"/images/{good['id']}")
    assert img["sha256"] == digest and img["size_bytes"] == len(data)
    assert Path(img["path"]).read_bytes() == data
