"""Links a VM network needs on this host, through pyroute2 (and ``ethtool``).

Runs in the peer's network namespace (in the lab, the host's namespace): the
taps VM NICs use, the uplink whose address moves onto the OVS bridge ``br-phy``
(OVS's userspace datapath routes Geneve only from an address on one of its own
bridges), and the offloads it must turn off (the userspace datapath forwards
packets whose checksum the kernel left for a NIC to fill in, so TCP stalls).
Every pyroute2 error becomes a LinkError.
"""

from __future__ import annotations

import socket
import subprocess

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError as _PrNetlinkError

from hypervisor.errors import HypervisorError


class LinkError(HypervisorError):
    """The kernel refused a link change, or the link does not exist."""

    status = 503
    code = "link_error"


def _index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise LinkError(f"no interface {ifname!r} on this host", interface=ifname)
    return int(found[0])


def exists(ifname: str) -> bool:
    try:
        with IPRoute() as ipr:
            return bool(ipr.link_lookup(ifname=ifname))
    except (_PrNetlinkError, OSError):
        return False


def addresses(ifname: str) -> list[str]:
    """IPv4 addresses of a link as ``a.b.c.d/p``."""
    try:
        with IPRoute() as ipr:
            idx = _index(ipr, ifname)
            return [
                f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}"
                for m in ipr.get_addr(index=idx, family=socket.AF_INET)
            ]
    except (_PrNetlinkError, OSError) as e:
        raise LinkError(f"cannot read {ifname}: {e}", interface=ifname) from None


def ensure_tap(ifname: str, mtu: int | None = None) -> None:
    """A persistent tap named ``ifname``, up (QEMU opens it by name; the flags it
    asks for replace the ones set here)."""
    try:
        with IPRoute() as ipr:
            if not ipr.link_lookup(ifname=ifname):
                ipr.link("add", ifname=ifname, kind="tuntap", mode="tap")
            idx = _index(ipr, ifname)
            if mtu:
                ipr.link("set", index=idx, mtu=mtu)
            ipr.link("set", index=idx, state="up")
    except (_PrNetlinkError, OSError) as e:
        raise LinkError(f"cannot create tap {ifname}: {e}", interface=ifname) from None


def delete(ifname: str) -> None:
    """Remove a link; nothing if it is gone already."""
    try:
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if found:
                ipr.link("del", index=found[0])
    except (_PrNetlinkError, OSError) as e:
        raise LinkError(f"cannot delete {ifname}: {e}", interface=ifname) from None


def set_up(ifname: str) -> None:
    try:
        with IPRoute() as ipr:
            ipr.link("set", index=_index(ipr, ifname), state="up")
    except (_PrNetlinkError, OSError) as e:
        raise LinkError(f"cannot bring {ifname} up: {e}", interface=ifname) from None


def move_addresses(src: str, dst: str) -> list[str]:
    """Move every IPv4 address (and a default route through ``src``) from ``src``
    to ``dst``; returns the addresses ``dst`` holds afterwards."""
    try:
        with IPRoute() as ipr:
            s, d = _index(ipr, src), _index(ipr, dst)
            gateways = [
                str(r.get_attr("RTA_GATEWAY"))
                for r in ipr.get_routes(family=socket.AF_INET, table=254, oif=s)
                if r["dst_len"] == 0 and r.get_attr("RTA_GATEWAY")
            ]
            for m in ipr.get_addr(index=s, family=socket.AF_INET):
                addr, plen = m.get_attr("IFA_ADDRESS"), m["prefixlen"]
                ipr.addr("del", index=s, address=addr, prefixlen=plen)
                ipr.addr("replace", index=d, address=addr, prefixlen=plen)
            ipr.link("set", index=d, state="up")
            for gw in gateways:
                ipr.route("replace", dst="0.0.0.0/0", gateway=gw, oif=d)
    except (_PrNetlinkError, OSError) as e:
        raise LinkError(f"cannot move addresses from {src} to {dst}: {e}", interface=src) from None
    return addresses(dst)


def checksum_offload_off(ifname: str) -> None:
    """Turn tx checksum offload off on one link (a veth end, a tap)."""
    try:
        res = subprocess.run(
            ["ethtool", "-K", ifname, "tx", "off"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LinkError(f"ethtool on {ifname}: {e}", interface=ifname) from None
    if res.returncode != 0:
        raise LinkError(f"ethtool -K {ifname} tx off: {res.stderr.strip()}", interface=ifname)
