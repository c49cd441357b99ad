"""An upload that lands on a peer without the image's pool is streamed on to the
host that has it (with the caller's credentials), on a real 2-host lab."""

from __future__ import annotations

import asyncio
import hashlib
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

DATA = secrets.token_bytes(3 * 1024 * 1024 + 17)  # several chunks, not a round size


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("u") as lab:
        yield lab


async def put(url: str, token: str, data: bytes) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=lab_tls())) as s,
        s.put(url, data=data, headers=headers) as r,
    ):
        return r.status, await r.json()


def test_an_upload_to_another_peer_is_forwarded_to_the_pools_host(lab: Lab) -> None:
    hosts = lab.up(2)
    wait_for(
        lambda: sum(m["voter"] for m in host_api(hosts[0]).get("/cluster")["members"]) == 2, 60
    )
    by_id = {host_api(h).get("/peer")["node_id"]: h for h in hosts}
    entry = hosts[0]
    target_id, target = next((nid, h) for nid, h in by_id.items() if h is not entry)
    status, tok = host_api(entry).post("/tokens", {"name": "upload", "user": "admin"})
    assert status == 201, tok
    pool_dir = target.data_dir / "data" / "own"  # the root "local" of that host
    body = {"name": "own", "nodes": [target_id]}
    status, pool = host_api(entry).post("/pools", body)
    assert status == 201, pool

    def new_image(**extra: Any) -> str:
        status, img = host_api(entry).post(
            "/images", {"name": "blob.img", "kind": "disk", "pool": "own", **extra}
        )
        assert status == 201, img
        return str(img["id"])

    # A wrong declared checksum: refused by the target, passed back, nothing left.
    bad = new_image(sha256="0" * 64)
    status, err = asyncio.run(put(f"{entry.url}api/v1/images/{bad}/content", tok["token"], DATA))
    assert status == 422 and err["code"] == "checksum_mismatch", err
    assert not pool_dir.exists() or list(pool_dir.iterdir()) == []

    good = new_image()
    status, img = asyncio.run(put(f"{entry.url}api/v1/images/{good}/content", tok["token"], DATA))
    assert status == 200, img
    assert img["state"] == "ready" and img["node"] == target_id
    assert img["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert Path(img["path"]).parent == pool_dir and Path(img["path"]).read_bytes() == DATA
