"""Storage: pools, volumes and images (their records; hosts do the I/O)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from peer.api.errors import Forbidden, ValidationFailed
from peer.api.resources.common import NAME
from peer.api.resources.crud import Resource, declare
from peer.api.routes import ApiRequest, Routes
from peer.auth.roles import Role
from peer.storage_roots import DEFAULT_ROOT, PathRefused, file_in_roots, pool_dir
from peer.url_policy import UrlRefused, check_literal
from raft.store import Store

routes = Routes(tag="storage")

SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _need(req: ApiRequest, table: str, key: str, field: str) -> None:
    if req.store.get(table, key) is None:
        raise ValidationFailed(
            f"/{field}: {table[:-1]} {key!r} does not exist",
            code="unknown_reference",
            errors=[{"path": f"/{field}", "problem": "does not exist"}],
        )


def _refused(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"/{field}: {message}", code=code, errors=[{"path": f"/{field}", "problem": message}]
    )


def _vms_using(store: Store, pred: Any) -> str | None:
    names = [str(r.value.get("name")) for r in store.scan("vms") if pred(r.value)]
    return f"used by VM {', '.join(sorted(names)[:5])}" if names else None


# -- pools -------------------------------------------------------------------
def _pool_in_use(store: Store, key: str) -> str | None:
    vols = [r.key for r in store.scan("volumes") if r.value.get("pool") == key]
    imgs = [r.key for r in store.scan("images") if r.value.get("pool") == key]
    if vols or imgs:
        return f"{len(vols)} volume(s) and {len(imgs)} image(s) live in it"
    return None


def _prepare_pool(req: ApiRequest, b: dict[str, Any]) -> dict[str, Any]:
    """A ``dir`` pool lives at ``<root>/<name>`` under one of this host's allowed
    roots; every host derives the directory again from its own roots."""
    value = {"type": "dir", "root": DEFAULT_ROOT, "shared": False, "nodes": [], **b}
    try:
        where = pool_dir(req.ctx.config.roots, value, b["name"])
    except PathRefused as e:
        raise _refused("root", e.message, e.code) from None
    return {**value, "path": str(where)}


declare(
    routes,
    Resource(
        table="pools",
        singular="pool",
        plural="pools",
        props={
            "name": {"type": "string"},
            "type": {"type": "string"},
            "root": {"type": ["string", "null"]},
            "path": {"type": ["string", "null"], "description": "on the host that created it"},
            "shared": {"type": "boolean"},
            "nodes": {"type": "array", "items": {"type": "string"}},
        },
        create={
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": NAME,
                "type": {"type": "string", "enum": ["dir"], "default": "dir"},
                "root": {
                    **NAME,
                    "default": DEFAULT_ROOT,
                    "description": "an allowed root (pool_roots in node.yaml); "
                    "the pool's directory is <root>/<name>",
                },
                "shared": {"type": "boolean", "default": False},
                "nodes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            },
        },
        patch={
            "type": "object",
            "properties": {
                "shared": {"type": "boolean"},
                "nodes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            },
        },
        prepare=_prepare_pool,
        in_use=_pool_in_use,
        role=Role.ADMIN,
    ),
)


# -- volumes -----------------------------------------------------------------
def _prepare_volume(req: ApiRequest, b: dict[str, Any]) -> dict[str, Any]:
    _need(req, "pools", b["pool"], "pool")
    size = b.pop("size_gib") * 1024**3
    return {
        "format": "qcow2",
        "node": None,
        **b,
        "size_bytes": size,
        "vm": None,
        "backing_image": None,
        "state": "pending",
    }


def _patch_volume(req: ApiRequest, cur: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    new_size = b["size_gib"] * 1024**3 if "size_gib" in b else cur.get("size_bytes", 0)
    if new_size < int(cur.get("size_bytes") or 0):
        raise ValidationFailed("/size_gib: a volume can only grow", code="cannot_shrink")
    return {**cur, "size_bytes": new_size}


def _volume_in_use(store: Store, key: str) -> str | None:
    rec = store.get("volumes", key)
    vm = rec.value.get("vm") if rec else None
    return f"attached to VM {vm}" if vm else None


declare(
    routes,
    Resource(
        table="volumes",
        singular="volume",
        plural="volumes",
        keyed_by_name=False,
        props={
            "name": {"type": "string"},
            "pool": {"type": ["string", "null"]},
            "size_bytes": {"type": "integer"},
            "format": {"type": "string"},
            "node": {"type": ["string", "null"]},
            "vm": {"type": ["string", "null"]},
        },
        create={
            "type": "object",
            "required": ["name", "pool", "size_gib"],
            "properties": {
                "name": NAME,
                "pool": {"type": "string", "minLength": 1},
                "size_gib": {"type": "integer", "minimum": 1, "maximum": 65536},
                "format": {"type": "string", "enum": ["qcow2", "raw"]},
                "node": {"type": "string", "description": "for local pools"},
            },
        },
        patch={
            "type": "object",
            "properties": {"size_gib": {"type": "integer", "minimum": 1, "maximum": 65536}},
        },
        prepare=_prepare_volume,
        apply_patch=_patch_volume,
        in_use=_volume_in_use,
        filters={"pool": {"type": "string"}, "node": {"type": "string"}, "vm": {"type": "string"}},
    ),
)


# -- images ------------------------------------------------------------------
# disk: a base for VM disks; iso: a CD-ROM; kernel/initrd: direct kernel boot.
IMAGE_KINDS = ["disk", "iso", "kernel", "initrd"]
IMAGE_PROPS: dict[str, Any] = {
    "name": {"type": "string"},
    "kind": {"type": "string"},
    "pool": {"type": "string"},
    "path": {"type": ["string", "null"]},
    "size_bytes": {"type": ["integer", "null"]},
    "sha256": {"type": ["string", "null"]},
    "state": {"type": "string"},
}


def _check_source(req: ApiRequest, url: str) -> None:
    """Cheap checks where the call lands (the importing host checks again with
    its own roots and resolves names): a ``file://`` source is an admin's, and
    inside this host's pool roots; an http(s) one does not name an address
    imports may not reach."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        if req.principal.role < Role.ADMIN:
            raise Forbidden(
                "importing an image from a host file needs the admin role; "
                "upload it, or give an http(s) URL",
                code="forbidden",
                required="admin",
            )
        try:
            file_in_roots(req.ctx.config.roots, Path(urllib.parse.unquote(parsed.path)))
        except PathRefused as e:
            raise _refused("source_url", e.message, e.code) from None
        return
    members = [str(r.value.get("address")) for r in req.store.scan("nodes")]
    try:
        check_literal(url, req.ctx.config.url_import_allow, [*members, req.ctx.address])
    except UrlRefused as e:
        raise _refused("source_url", str(e), "url_refused") from None


def _prepare_image(req: ApiRequest, b: dict[str, Any]) -> dict[str, Any]:
    _need(req, "pools", b["pool"], "pool")
    if b.get("source_url"):
        _check_source(req, str(b["source_url"]))
    # The file is made by an upload or by the host that imports the source_url,
    # which moves the image from "pending" to "ready" and records where it is.
    return {
        "size_bytes": None,
        "sha256": None,
        "source_url": None,
        **b,
        "path": None,
        "state": "pending",
    }


def _image_in_use(store: Store, key: str) -> str | None:
    return _vms_using(
        store,
        lambda v: (
            key in (v.get("cdrom"), v.get("kernel"), v.get("initrd"))
            or any(d.get("image") == key for d in v.get("disks") or [])
        ),
    )


declare(
    routes,
    Resource(
        table="images",
        singular="image",
        plural="images",
        keyed_by_name=False,
        props=IMAGE_PROPS,
        create={
            "type": "object",
            "required": ["name", "kind", "pool"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "kind": {"type": "string", "enum": IMAGE_KINDS},
                "pool": {"type": "string", "minLength": 1},
                "source_url": {
                    "type": "string",
                    "pattern": r"^(https?|file)://\S+$",
                    "maxLength": 4096,
                },
                "size_bytes": {"type": "integer", "minimum": 0},
                "sha256": SHA256,
            },
        },
        prepare=_prepare_image,
        in_use=_image_in_use,
        filters={"kind": {"type": "string", "enum": IMAGE_KINDS}, "pool": {"type": "string"}},
    ),
)
