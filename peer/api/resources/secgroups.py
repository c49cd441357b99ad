"""Security groups (admin-only changes): stateful rules on the NICs that name a
group. A NIC in at least one group takes inbound IPv4 only as its groups' rules
allow (and replies to what it sent); outbound is open. DHCP always passes.
A NIC in no group is unfiltered. Enforced by OVN ACLs on every host
(peer.net.project); rules change in place, wherever the VMs run."""

from __future__ import annotations

import ipaddress
from typing import Any

from peer.api.errors import ValidationFailed
from peer.api.resources.common import NAME
from peer.api.resources.crud import Resource, declare
from peer.api.routes import ApiRequest, Routes
from peer.auth.roles import Role
from raft.store import Store

routes = Routes(tag="security_groups")

RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["protocol"],
    "properties": {
        "direction": {"type": "string", "enum": ["ingress"], "default": "ingress"},
        "protocol": {"type": "string", "enum": ["tcp", "udp", "icmp", "any"]},
        "port_min": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
        "port_max": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
        "cidr": {"type": ["string", "null"], "pattern": "^[0-9./]{7,18}$"},
        "group": {"type": ["string", "null"], "description": "from the NICs of this group"},
    },
}
RULES = {"type": "array", "items": RULE, "maxItems": 100}


def _check_rules(store: Store, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, r in enumerate(rules):
        where = f"/rules/{i}"
        lo, hi = r.get("port_min"), r.get("port_max")
        if r["protocol"] in ("icmp", "any") and (lo or hi):
            raise ValidationFailed(f"{r['protocol']} has no ports", path=where)
        if r["protocol"] in ("tcp", "udp"):
            lo = lo or 1
            hi = hi or (lo if r.get("port_min") else 65535)
            if hi < lo:
                raise ValidationFailed("port_max is below port_min", path=where)
        if r.get("cidr") and r.get("group"):
            raise ValidationFailed("a rule allows a cidr or a group, not both", path=where)
        cidr = r.get("cidr")
        if cidr:
            try:
                cidr = str(ipaddress.IPv4Network(cidr, strict=False))
            except ValueError as e:
                raise ValidationFailed(f"cidr: {e}", path=where) from None
        if r.get("group") and store.get("secgroups", str(r["group"])) is None:
            raise ValidationFailed(f"security group {r['group']!r} does not exist", path=where)
        out.append(
            {
                "direction": "ingress",
                "protocol": r["protocol"],
                "port_min": lo,
                "port_max": hi,
                "cidr": None if r.get("group") else (cidr or "0.0.0.0/0"),
                "group": r.get("group"),
            }
        )
    return out


def _prepare(req: ApiRequest, body: dict[str, Any]) -> dict[str, Any]:
    return {"name": body["name"], "rules": _check_rules(req.store, body.get("rules") or [])}


def _patch(req: ApiRequest, cur: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {**cur, "rules": _check_rules(req.store, body.get("rules") or [])}


def _in_use(store: Store, key: str) -> str | None:
    names = sorted(
        str(r.value.get("name"))
        for r in store.scan("vms")
        if any(key in (n.get("groups") or []) for n in r.value.get("nics") or [])
    )
    if names:
        return f"used by VM {', '.join(names[:5])}"
    refs = sorted(
        r.key
        for r in store.scan("secgroups")
        if any(rule.get("group") == key for rule in r.value.get("rules") or [])
    )
    return f"named by security group {', '.join(refs[:5])}" if refs else None


declare(
    routes,
    Resource(
        table="secgroups",
        singular="security_group",
        plural="security_groups",
        props={"name": {"type": "string"}, "rules": {"type": "array"}},
        create={
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {"name": NAME, "rules": RULES},
        },
        patch={
            "type": "object",
            "required": ["rules"],
            "additionalProperties": False,
            "properties": {"rules": RULES},
        },
        prepare=_prepare,
        apply_patch=_patch,
        in_use=_in_use,
        role=Role.ADMIN,
    ),
)
