"""Networks VMs attach to (admin-only changes): ``overlay`` (the default),
``vlan`` and ``isolated`` networks run on OVN (peer/net), ``bridge`` plugs into an
existing Linux bridge on each host. Every field is acted on or refused with a 422;
docs/network.md has the model."""

from __future__ import annotations

from typing import Any

from peer.api.errors import ValidationFailed
from peer.api.resources.common import NAME
from peer.api.resources.crud import Resource, declare
from peer.api.routes import ApiRequest, Routes
from peer.auth.roles import Role
from peer.net import model
from raft.store import Store

routes = Routes(tag="networks")

IFNAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,15}$"}
VLAN = {"type": ["integer", "null"], "minimum": 1, "maximum": 4094}
CIDR = {"type": ["string", "null"], "pattern": "^[0-9./]{9,18}$"}


def _in_use(store: Store, key: str) -> str | None:
    names = sorted(
        str(r.value.get("name"))
        for r in store.scan("vms")
        if any(n.get("network") == key for n in r.value.get("nics") or [])
    )
    return f"used by VM {', '.join(names[:5])}" if names else None


def _refused(e: model.NetworkError) -> ValidationFailed:
    return ValidationFailed(e.message, code=e.code, path=e.path)


def _prepare(req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
    if "type" not in body and body.get("bridge"):
        body = {**body, "type": "bridge"}  # what a network was before OVN
    try:
        return model.normalize(body)
    except model.NetworkError as e:
        raise _refused(e) from None


def _patch(req: ApiRequest, cur: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if "vlan" in body and cur.get("type") != "vlan":
        raise ValidationFailed(
            f"a {cur.get('type')} network has no VLAN tag to change",
            code="network_field_unsupported",
            path="/vlan",
        )
    if "vlan" in body and body["vlan"] is None:
        raise ValidationFailed("a vlan network needs its tag", path="/vlan")
    return {**cur, **body}


declare(
    routes,
    Resource(
        table="networks",
        singular="network",
        plural="networks",
        props={
            "name": {"type": "string"},
            "type": {"type": "string", "enum": list(model.KINDS)},
            "bridge": {"type": ["string", "null"]},
            "vlan": {"type": ["integer", "null"]},
            "cidr": {"type": ["string", "null"]},
            "gateway": {"type": ["string", "null"]},
            "dhcp": {"type": "boolean"},
            "dns": {"type": "boolean"},
            "mtu": {"type": "integer"},
        },
        create={
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": NAME,
                "type": {
                    "type": "string",
                    "enum": list(model.KINDS),
                    "description": "overlay (default; bridge when only 'bridge' is given)",
                },
                "bridge": IFNAME,
                "vlan": VLAN,
                "cidr": CIDR,
                "gateway": {
                    "type": ["string", "null"],
                    "description": "default: the subnet's first address; null: none",
                },
                "dhcp": {"type": "boolean", "default": True},
                "dns": {"type": "boolean", "default": True},
            },
        },
        patch={"type": "object", "additionalProperties": False, "properties": {"vlan": VLAN}},
        prepare=_prepare,
        apply_patch=_patch,
        in_use=_in_use,
        role=Role.ADMIN,
    ),
)
