"""Networks VMs attach to.

Only ``bridge`` networks are acted on so far: a VM's NIC plugs into a Linux
bridge that must already exist on the host that runs it. Kinds and fields that
nothing acts on yet (``type: ovs``, a ``vlan`` tag) are refused with a 422 rather
than stored and silently ignored.
"""

from __future__ import annotations

from typing import Any

from peer.api.errors import ValidationFailed
from peer.api.resources.common import NAME
from peer.api.resources.crud import Resource, declare
from peer.api.routes import ApiRequest, Routes
from peer.auth.roles import Role
from raft.store import Store

routes = Routes(tag="networks")

IFNAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,15}$"}
VLAN = {"type": ["integer", "null"], "minimum": 1, "maximum": 4094}


def _in_use(store: Store, key: str) -> str | None:
    names = sorted(
        str(r.value.get("name"))
        for r in store.scan("vms")
        if any(n.get("network") == key for n in r.value.get("nics") or [])
    )
    return f"used by VM {', '.join(names[:5])}" if names else None


def _refuse_unacted(body: dict[str, Any]) -> None:
    kind = body.get("type", "bridge")
    if kind != "bridge":
        raise ValidationFailed(
            f"network type {kind!r} is not implemented: only 'bridge' networks are acted on",
            code="network_type_unsupported",
            path="/type",
        )
    if body.get("vlan") is not None:
        raise ValidationFailed(
            "a VLAN tag on a bridge network is not acted on: put the tag on the host's bridge",
            code="network_vlan_unsupported",
            path="/vlan",
        )


def _prepare(req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
    _refuse_unacted(body)
    return {"type": "bridge", "vlan": None, **body}


def _patch(req: ApiRequest, cur: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    _refuse_unacted({**cur, **body})
    return {**cur, **body}


declare(
    routes,
    Resource(
        table="networks",
        singular="network",
        plural="networks",
        props={
            "name": {"type": "string"},
            "type": {"type": "string"},
            "bridge": {"type": "string"},
            "vlan": {"type": ["integer", "null"]},
        },
        create={
            "type": "object",
            "required": ["name", "bridge"],
            "properties": {
                "name": NAME,
                "type": {"type": "string", "enum": ["bridge", "ovs"], "default": "bridge"},
                "bridge": IFNAME,
                "vlan": VLAN,
            },
        },
        patch={"type": "object", "properties": {"vlan": VLAN}},
        prepare=_prepare,
        apply_patch=_patch,
        in_use=_in_use,
        role=Role.ADMIN,
    ),
)
