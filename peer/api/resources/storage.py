"""Storage: pools, volumes and images (their records; hosts do the I/O)."""

from __future__ import annotations

from typing import Any

from peer.api.errors import ValidationFailed
from peer.api.resources.common import NAME
from peer.api.resources.crud import Resource, declare
from peer.api.routes import ApiRequest, Routes
from raft.store import Store

routes = Routes(tag="storage")

ABS_PATH = {"type": "string", "pattern": r"^/(?!.*(^|/)\.\.(/|$))[^\x00]*$", "maxLength": 4096}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _need(req: ApiRequest, table: str, key: str, field: str) -> None:
    if req.store.get(table, key) is None:
        raise ValidationFailed(
            f"/{field}: {table[:-1]} {key!r} does not exist",
            code="unknown_reference",
            errors=[{"path": f"/{field}", "problem": "does not exist"}],
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


declare(
    routes,
    Resource(
        table="pools",
        singular="pool",
        plural="pools",
        props={
            "name": {"type": "string"},
            "type": {"type": "string"},
            "path": {"type": "string"},
            "shared": {"type": "boolean"},
            "nodes": {"type": "array", "items": {"type": "string"}},
        },
        create={
            "type": "object",
            "required": ["name", "path"],
            "properties": {
                "name": NAME,
                "type": {"type": "string", "enum": ["dir"], "default": "dir"},
                "path": ABS_PATH,
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
        prepare=lambda req, b: {"type": "dir", "shared": False, "nodes": [], **b},
        in_use=_pool_in_use,
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


def _prepare_image(req: ApiRequest, b: dict[str, Any]) -> dict[str, Any]:
    _need(req, "pools", b["pool"], "pool")
    # An image whose file is already in the pool is ready; otherwise the host
    # that imports it moves it from "pending" to "ready".
    return {
        "size_bytes": None,
        "sha256": None,
        "path": None,
        "source_url": None,
        **b,
        "state": "ready" if b.get("path") else "pending",
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
                "path": ABS_PATH,
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
