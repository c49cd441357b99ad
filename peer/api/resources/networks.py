"""Networks VMs attach to: a Linux bridge or an OVS bridge, optionally a VLAN."""

from __future__ import annotations

from peer.api.resources.common import NAME
from peer.api.resources.crud import Resource, declare
from peer.api.routes import Routes
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
        prepare=lambda req, b: {"type": "bridge", "vlan": None, **b},
        in_use=_in_use,
        role=Role.ADMIN,
    ),
)
