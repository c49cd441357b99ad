"""The one module that uses pyroute2: read and change this host's IPv4 setup.

Runs in the peer's network namespace (in the lab, the host's namespace).
Every pyroute2 error becomes a NetlinkError.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError as _PrNetlinkError

from peer.hostmgmt.errors import NetlinkError


def _index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise NetlinkError(f"no interface {ifname!r} on this host", code="no_interface")
    return int(found[0])


def _addresses(ipr: IPRoute, index: int) -> list[str]:
    out = []
    for msg in ipr.get_addr(index=index, family=socket.AF_INET):
        addr = msg.get_attr("IFA_ADDRESS")
        if addr:
            out.append(f"{addr}/{msg['prefixlen']}")
    return out


def _default_gateway(ipr: IPRoute) -> str | None:
    for msg in ipr.get_routes(family=socket.AF_INET, table=254):
        if msg["dst_len"] == 0 and msg.get_attr("RTA_GATEWAY"):
            return str(msg.get_attr("RTA_GATEWAY"))
    return None


def exists(ifname: str) -> bool:
    try:
        with IPRoute() as ipr:
            return bool(ipr.link_lookup(ifname=ifname))
    except (_PrNetlinkError, OSError):
        return False


def read(ifname: str) -> dict[str, Any]:
    """``{interface, addresses: [a.b.c.d/p], gateway, state, mac}`` of one link."""
    try:
        with IPRoute() as ipr:
            idx = _index(ipr, ifname)
            link = ipr.get_links(idx)[0]
            return {
                "interface": ifname,
                "addresses": _addresses(ipr, idx),
                "gateway": _default_gateway(ipr),
                "state": str(link.get_attr("IFLA_OPERSTATE") or "unknown").lower(),
                "mac": link.get_attr("IFLA_ADDRESS"),
            }
    except _PrNetlinkError as e:
        raise NetlinkError(f"cannot read {ifname}: {e}") from None


def apply_static(
    ifname: str, vlan: int | None, address: str, gateway: str | None
) -> dict[str, Any]:
    """Put ``address`` (and only it) on the interface or its VLAN sub-interface,
    and make ``gateway`` the default route. Returns what a rollback needs."""
    dev = f"{ifname}.{vlan}"[:15] if vlan else ifname
    new = ipaddress.IPv4Interface(address)
    try:
        with IPRoute() as ipr:
            base = _index(ipr, ifname)
            created = False
            if vlan and not ipr.link_lookup(ifname=dev):
                try:
                    ipr.link("add", ifname=dev, kind="vlan", link=base, vlan_id=vlan)
                except _PrNetlinkError as e:
                    raise NetlinkError(
                        f"cannot create VLAN {vlan} on {ifname} (no 802.1Q support?): {e}",
                        code="vlan_unsupported",
                    ) from None
                created = True
            idx = _index(ipr, dev)
            ipr.link("set", index=idx, state="up")
            before = _addresses(ipr, idx)
            base_before = _addresses(ipr, base) if dev != ifname else before
            gw_before = _default_gateway(ipr)
            # Old addresses go first: deleting a primary address also deletes the
            # secondaries of its subnet (unless promote_secondaries is set).
            _set_addresses(ipr, idx, [str(new)])
            if gateway:
                ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx)
            return {
                "interface": ifname,
                "device": dev,
                "addresses": base_before,
                "device_addresses": before,
                "gateway": gw_before,
                "created_vlan": created,
            }
    except _PrNetlinkError as e:
        raise NetlinkError(f"the kernel refused the change on {dev}: {e}") from None


def restore(snapshot: dict[str, Any]) -> None:
    """Put back what ``apply_static`` recorded."""
    ifname, dev = snapshot["interface"], snapshot.get("device") or snapshot["interface"]
    try:
        with IPRoute() as ipr:
            if snapshot.get("created_vlan") and ipr.link_lookup(ifname=dev):
                ipr.link("del", index=_index(ipr, dev))
            elif dev != ifname and ipr.link_lookup(ifname=dev):
                _set_addresses(ipr, _index(ipr, dev), snapshot.get("device_addresses") or [])
            base = _index(ipr, ifname)
            _set_addresses(ipr, base, snapshot.get("addresses") or [])
            gw = snapshot.get("gateway")
            current = _default_gateway(ipr)
            if gw and gw != current:
                ipr.route("replace", dst="0.0.0.0/0", gateway=gw)
            elif not gw and current:
                ipr.route("del", dst="0.0.0.0/0", table=254)
    except _PrNetlinkError as e:
        raise NetlinkError(f"could not restore {ifname}: {e}") from None


def _set_addresses(ipr: IPRoute, idx: int, wanted: list[str]) -> None:
    """Make the link's IPv4 addresses exactly ``wanted`` (removals first)."""
    for a in _addresses(ipr, idx):
        if a not in wanted:
            i = ipaddress.IPv4Interface(a)
            ipr.addr("del", index=idx, address=str(i.ip), prefixlen=i.network.prefixlen)
    have = _addresses(ipr, idx)
    for a in wanted:
        if a not in have:
            i = ipaddress.IPv4Interface(a)
            ipr.addr("add", index=idx, address=str(i.ip), prefixlen=i.network.prefixlen)


def interface_for(address: str) -> str | None:
    """The link that carries ``address`` (the management interface), if any."""
    try:
        with IPRoute() as ipr:
            for msg in ipr.get_addr(family=socket.AF_INET):
                if msg.get_attr("IFA_ADDRESS") == address:
                    links = ipr.get_links(msg["index"])
                    return str(links[0].get_attr("IFLA_IFNAME")) if links else None
    except (_PrNetlinkError, OSError):
        return None
    return None
