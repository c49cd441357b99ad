"""Management network settings: validation and the rollback plan. Pure.

A setting is ``{mode, interface, address, gateway, dns, vlan}``; ``address`` is
``a.b.c.d/prefix`` (static only). A snapshot of what the interface had before a
change (``{interface, device, addresses, gateway, dns, created_vlan}``) is what a
rollback restores.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from peer.hostmgmt.errors import InvalidSettings

_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def validate(raw: dict[str, Any], default_interface: str | None) -> dict[str, Any]:
    """Normalised settings, or InvalidSettings naming the field."""
    mode = raw.get("mode", "static")
    if mode not in ("dhcp", "static"):
        raise InvalidSettings("mode must be dhcp or static")
    iface = raw.get("interface") or default_interface
    if not iface or not _IFNAME_RE.match(str(iface)):
        raise InvalidSettings(f"interface {iface!r} is not an interface name")
    vlan = raw.get("vlan")
    if vlan is not None and (not isinstance(vlan, int) or not 1 <= vlan <= 4094):
        raise InvalidSettings("vlan must be 1-4094")
    dns: list[str] = []
    for d in raw.get("dns") or []:
        try:
            dns.append(str(ipaddress.IPv4Address(str(d).strip())))
        except ValueError:
            raise InvalidSettings(f"DNS server {d!r} is not an IPv4 address") from None
    out: dict[str, Any] = {
        "mode": mode,
        "interface": str(iface),
        "vlan": vlan,
        "dns": dns,
        "address": None,
        "gateway": None,
    }
    if mode == "static":
        try:
            net = ipaddress.IPv4Interface(str(raw.get("address") or ""))
        except ValueError:
            raise InvalidSettings("address must look like 192.168.1.10/24") from None
        if "/" not in str(raw.get("address")):
            raise InvalidSettings("address needs a prefix length, e.g. 192.168.1.10/24")
        if net.network.prefixlen < 32 and net.ip in (
            net.network.network_address,
            net.network.broadcast_address,
        ):
            raise InvalidSettings(f"{net.ip} is the network or broadcast address of {net.network}")
        out["address"] = str(net)
        gw = raw.get("gateway")
        if gw:
            try:
                gateway = ipaddress.IPv4Address(str(gw))
            except ValueError:
                raise InvalidSettings(f"gateway {gw!r} is not an IPv4 address") from None
            if gateway not in net.network:
                raise InvalidSettings(f"gateway {gateway} is not inside {net.network}")
            if gateway == net.ip:
                raise InvalidSettings("the gateway cannot be the host's own address")
            out["gateway"] = str(gateway)
    return out


def device(settings: dict[str, Any]) -> str:
    """The link the address goes on: the interface, or its VLAN sub-interface."""
    iface = str(settings["interface"])
    vlan = settings.get("vlan")
    return f"{iface}.{vlan}"[:15] if vlan else iface


def parse_resolv(text: str) -> list[str]:
    return [
        parts[1]
        for line in text.splitlines()
        if (parts := line.split()) and len(parts) >= 2 and parts[0] == "nameserver"
    ]


def render_resolv(dns: list[str]) -> str:
    return "# Written by Quantix (host console)\n" + "".join(f"nameserver {d}\n" for d in dns)
