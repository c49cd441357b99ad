"""Uploading an image's file: PUT /images/{id}/content streams into the pool."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peer.api.resources import image_upload
from peer.forward import FORWARDED_HEADER
from peer.images import upload_host
from raft.store import LocalStore, put
from tests.peer.api.conftest import bearer

DATA = b"QUANTIX-ISO" * 50_000  # ~550 kB: several chunks
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "local"  # the pool "local" under the root "local"


@pytest.fixture
async def op(client, tokens, pool_dir):
    r = await client.post("/api/v1/pools", json={"name": "local"}, headers=bearer(tokens["admin"]))
    assert r.status == 201
    assert (await r.json())["path"] == str(pool_dir)
    return bearer(tokens["operator"])


async def new_image(client, op, **extra) -> str:
    body = {"name": "tiny.iso", "kind": "iso", "pool": "local", **extra}
    r = await client.post("/api/v1/images", json=body, headers=op)
    assert r.status == 201, await r.text()
    img = await r.json()
    assert img["state"] == "pending"
    return str(img["id"])


def files(pool_dir: Path) -> list[str]:
    return sorted(p.name for p in pool_dir.iterdir()) if pool_dir.exists() else []


async def test_an_upload_makes_the_image_ready_with_its_sha256(client, op, store, pool_dir):
    iid = await new_image(client, op)
    r = await client.put(f"/api/v1/images/{iid}/content", data=DATA, headers=op)
    assert r.status == 200, await r.text()
    img = await r.json()
    assert img["state"] == "ready" and img["sha256"] == SHA and img["size_bytes"] == len(DATA)
    assert Path(img["path"]).read_bytes() == DATA
    assert files(pool_dir) == [Path(img["path"]).name]  # no temporary file left
    assert store.get("images", iid).value["node"] == "n1"  # a local pool: this host has it
    kinds = [e.value["kind"] for e in store.scan("events")]
    assert "image.uploaded" in kinds


async def test_a_streamed_upload_with_the_checksum_in_the_query(client, op, pool_dir):
    iid = await new_image(client, op)

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length
        for i in range(0, len(DATA), 65536):
            yield DATA[i : i + 65536]

    r = await client.put(f"/api/v1/images/{iid}/content?sha256={SHA}", data=chunks(), headers=op)
    assert r.status == 200, await r.text()
    assert (await r.json())["sha256"] == SHA


async def test_a_checksum_mismatch_is_refused_and_leaves_nothing(client, op, store, pool_dir):
    iid = await new_image(client, op, sha256="0" * 64)
    r = await client.put(f"/api/v1/images/{iid}/content", data=DATA, headers=op)
    assert r.status == 422
    err = await r.json()
    assert err["code"] == "checksum_mismatch" and err["details"]["actual"] == SHA
    assert files(pool_dir) == []
    rec = store.get("images", iid).value
    assert rec["state"] == "error" and "sha256" in rec["error"] and rec["path"] is None


async def test_too_large_is_refused_before_and_while_reading(client, op, pool_dir, monkeypatch):
    monkeypatch.setattr(image_upload, "MAX_UPLOAD_BYTES", 1000)
    iid = await new_image(client, op)
    r = await client.put(f"/api/v1/images/{iid}/content", data=DATA, headers=op)
    assert r.status == 413 and (await r.json())["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    r = await client.put(f"/api/v1/images/{iid}/content", data=chunks(), headers=op)
    assert r.status == 413 and (await r.json())["code"] == "too_large"
    assert files(pool_dir) == []


async def test_a_declared_size_must_match(client, op, pool_dir):
    iid = await new_image(client, op, size_bytes=len(DATA) + 1)
    r = await client.put(f"/api/v1/images/{iid}/content", data=DATA, headers=op)
    assert r.status == 400 and (await r.json())["code"] == "incomplete_upload"
    assert files(pool_dir) == []
    # The record says error: the upload can be tried again (here: still the wrong size).
    r = await client.put(f"/api/v1/images/{iid}/content", data=DATA + b"!", headers=op)
    assert r.status == 200, await r.text()


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"source_url": "https://example.invalid/x.iso"}, 409, "not_uploadable"),
    ],
)
async def test_images_that_cannot_take_an_upload(client, op, extra, status, code):
    body = {"name": "x", "kind": "iso", "pool": "local", **extra}
    iid = (await (await client.post("/api/v1/images", json=body, headers=op)).json())["id"]
    r = await client.put(f"/api/v1/images/{iid}/content", data=b"abc", headers=op)
    assert r.status == status and (await r.json())["code"] == code


async def test_an_unknown_image_is_404(client, op):
    r = await client.put("/api/v1/images/nope/content", data=b"abc", headers=op)
    assert r.status == 404 and (await r.json())["code"] == "not_found"


async def test_a_viewer_cannot_upload(client, op, tokens):
    iid = await new_image(client, op)
    r = await client.put(
        f"/api/v1/images/{iid}/content", data=b"abc", headers=bearer(tokens["viewer"])
    )
    assert r.status == 403


async def test_a_forwarded_upload_for_another_host_is_refused(client, op, store):
    await store.commit(
        [
            put(
                "pools",
                "theirs",
                {"name": "theirs", "shared": False, "nodes": ["n2"]},
            )
        ]
    )
    iid = await new_image(client, op, pool="theirs")
    r = await client.put(
        f"/api/v1/images/{iid}/content",
        data=b"abc",
        headers={**op, FORWARDED_HEADER: "n3"},
    )
    assert r.status == 409 and (await r.json())["code"] == "wrong_host"


async def test_who_writes_an_uploaded_file() -> None:
    store = LocalStore("n1")
    await store.commit(
        [
            put("pools", "shared", {"shared": True, "nodes": []}),
            put("pools", "everywhere", {"shared": False, "nodes": []}),
            put("pools", "some", {"shared": False, "nodes": ["n3", "n2"]}),
        ]
    )
    assert upload_host(store, {"pool": "shared", "node": "n2"}, "n1") == "n1"
    assert upload_host(store, {"pool": "everywhere"}, "n1") == "n1"
    assert upload_host(store, {"pool": "everywhere", "node": "n2"}, "n1") == "n2"
    assert upload_host(store, {"pool": "some"}, "n1") == "n2"
    assert upload_host(store, {"pool": "some"}, "n3") == "n3"
    # A claim by a host that stopped uploading does not pin the image to it.
    assert upload_host(store, {"pool": "some", "node": "n3", "state": "uploading"}, "n2") == "n2"
