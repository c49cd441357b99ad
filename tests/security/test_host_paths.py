"""Hole 2: no API input names a host path.

On the parent commit an operator could create a pool at any directory (say
/etc/cron.d) and upload into it as root, or register an image whose ``path`` is
any file (the cluster secret) and read it through a VM's CD-ROM. Now pools live
at ``<allowed root>/<name>`` (admin only), images are made only by upload or
import, a ``file://`` import is an admin's and must lie inside an allowed root,
and every file operation resolves symlinks and ``..`` before it checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peer.storage_roots import PathRefused, open_inside, pool_dir
from raft.store import put
from tests.peer.api.conftest import bearer, client, ctx, store, tokens  # noqa: F401


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory that stands for /etc: outside every allowed root."""
    d = tmp_path / "etc"
    d.mkdir()
    (d / "cluster.secret").write_text("the raft key")
    return d


async def test_an_operator_cannot_create_a_pool_and_nobody_names_its_path(
    client,  # noqa: F811
    tokens,  # noqa: F811
    outside,
    tmp_path,
):
    op, admin = bearer(tokens["operator"]), bearer(tokens["admin"])
    body = {"name": "cron", "path": str(outside)}
    r = await client.post("/api/v1/pools", json=body, headers=op)
    assert r.status == 403
    r = await client.post("/api/v1/pools", json=body, headers=admin)
    assert r.status == 422 and (await r.json())["details"]["errors"][0]["path"] == "/path"
    r = await client.post("/api/v1/pools", json={"name": "x", "root": "etc"}, headers=admin)
    assert r.status == 422 and (await r.json())["code"] == "unknown_root"
    r = await client.post("/api/v1/pools", json={"name": "cron"}, headers=admin)
    assert r.status == 201
    assert (await r.json())["path"] == str(tmp_path / "data" / "cron")


async def test_an_image_never_names_a_host_file(client, tokens, outside, tmp_path):  # noqa: F811
    op, admin = bearer(tokens["operator"]), bearer(tokens["admin"])
    assert (await client.post("/api/v1/pools", json={"name": "p"}, headers=admin)).status == 201
    secret = outside / "cluster.secret"
    for who in (op, admin):
        body = {"name": "s.iso", "kind": "iso", "pool": "p", "path": str(secret)}
        r = await client.post("/api/v1/images", json=body, headers=who)
        assert r.status == 422, await r.text()
    # A file:// import: not an operator's; an admin's only from inside a root.
    body = {"name": "s.iso", "kind": "iso", "pool": "p", "source_url": f"file://{secret}"}
    r = await client.post("/api/v1/images", json=body, headers=op)
    assert r.status == 403
    r = await client.post("/api/v1/images", json=body, headers=admin)
    assert r.status == 422 and (await r.json())["code"] == "path_outside_roots"
    # A symlink or a ".." inside the root that leads out is refused the same way.
    root = tmp_path / "data"
    root.mkdir(exist_ok=True)
    (root / "link.iso").symlink_to(secret)
    for src in (root / "link.iso", root / ".." / "etc" / "cluster.secret"):
        body["source_url"] = f"file://{src}"
        r = await client.post("/api/v1/images", json=body, headers=admin)
        assert r.status == 422 and (await r.json())["code"] == "path_outside_roots", src
    (root / "good.iso").write_bytes(b"iso")
    body["source_url"] = f"file://{root / 'good.iso'}"
    r = await client.post("/api/v1/images", json=body, headers=admin)
    assert r.status == 201 and (await r.json())["path"] is None


async def test_an_upload_goes_where_this_host_says_not_where_the_record_says(
    client,  # noqa: F811
    tokens,  # noqa: F811
    store,  # noqa: F811
    outside,
    tmp_path,
):
    op = bearer(tokens["operator"])
    # A pool record that names /etc (as an old or forged record could).
    forged = {"name": "p", "type": "dir", "path": str(outside), "shared": True, "nodes": []}
    await store.commit([put("pools", "p", forged)])
    body = {"name": "x.iso", "kind": "iso", "pool": "p"}
    iid = (await (await client.post("/api/v1/images", json=body, headers=op)).json())["id"]
    r = await client.put(f"/api/v1/images/{iid}/content", data=b"payload", headers=op)
    assert r.status == 200, await r.text()
    assert sorted(p.name for p in outside.iterdir()) == ["cluster.secret"]
    assert Path((await r.json())["path"]).parent == tmp_path / "data" / "p"


async def test_a_pool_directory_that_is_a_symlink_out_is_refused(
    client,  # noqa: F811
    tokens,  # noqa: F811
    outside,
    tmp_path,
):
    admin, op = bearer(tokens["admin"]), bearer(tokens["operator"])
    assert (await client.post("/api/v1/pools", json={"name": "p"}, headers=admin)).status == 201
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "p").symlink_to(outside)  # planted after the pool was made
    body = {"name": "x.iso", "kind": "iso", "pool": "p"}
    iid = (await (await client.post("/api/v1/images", json=body, headers=op)).json())["id"]
    r = await client.put(f"/api/v1/images/{iid}/content", data=b"payload", headers=op)
    assert r.status == 409 and (await r.json())["code"] == "path_outside_roots"
    assert sorted(p.name for p in outside.iterdir()) == ["cluster.secret"]


def test_file_checks_resolve_then_compare(tmp_path, outside):
    roots = {"local": tmp_path / "data"}
    (tmp_path / "data").mkdir()
    with pytest.raises(PathRefused):
        pool_dir(roots, {"type": "dir", "root": "local"}, "..")
    with pytest.raises(PathRefused, match="no directory"):
        pool_dir(roots, {"type": "nfs"}, "san")  # a network pool has no host path
    (tmp_path / "data" / "in.img").write_bytes(b"ok")
    (tmp_path / "data" / "out.img").symlink_to(outside / "cluster.secret")
    fd = open_inside(roots, tmp_path / "data" / "in.img")
    assert os.read(fd, 2) == b"ok"
    os.close(fd)
    with pytest.raises(PathRefused):
        open_inside(roots, tmp_path / "data" / "out.img")
    with pytest.raises(PathRefused):
        open_inside(roots, tmp_path / "data" / ".." / "etc" / "cluster.secret")
