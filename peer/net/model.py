"""Networks, NIC ports and IP addresses as the cluster state holds them. Pure.

A network record (table ``networks``) is one of four kinds:

- ``overlay``: a Geneve segment across every host (the default);
- ``vlan``: a tag on the hosts' physical data network (their uplink bridge);
- ``isolated``: like an overlay, never routed anywhere;
- ``bridge``: an existing Linux bridge on each host (no OVN, no IPAM).

OVN kinds carry one IPv4 subnet (``cidr``, ``gateway``). A NIC on one gets a
fixed address for life: it is reserved by a ``meta`` record ``ip:<net>:<ip>``
written with ``expect="absent"`` in the same commit as the VM, so two NICs can
never hold one address, and the reservation goes with the VM.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

OVN_KINDS = ("overlay", "vlan", "isolated")
KINDS = (*OVN_KINDS, "bridge")
# Geneve and its outer headers take 58 bytes of a 1500-byte underlay frame.
OVERLAY_MTU = 1442
VLAN_MTU = 1500
DNS_DOMAIN = "qx"


class NetworkError(Exception):
    """A network or NIC request the cluster cannot satisfy (message for people)."""

    def __init__(self, message: str, *, code: str = "invalid_network", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path


def is_ovn(net: Mapping[str, Any] | None) -> bool:
    return net is not None and net.get("type") in OVN_KINDS


def mtu(net: Mapping[str, Any]) -> int:
    return VLAN_MTU if net.get("type") == "vlan" else OVERLAY_MTU


def port_name(vm_id: str, mac: str) -> str:
    """A NIC's OVS port: the tap's name (15 bytes at most) and the OVN logical
    port's, stable for the NIC's life wherever the VM runs."""
    return "qxt" + hashlib.sha256(f"{vm_id}/{mac}".encode()).hexdigest()[:11]


def ip_key(network: str, ip: str) -> str:
    """The ``meta`` key that reserves ``ip`` on ``network``."""
    return f"ip:{network}:{ip}"


def ip_prefix(network: str) -> str:
    return f"ip:{network}:"


def normalize(body: Mapping[str, Any]) -> dict[str, Any]:
    """A network create body checked and completed into the record to store."""
    kind = body.get("type") or "overlay"
    if kind not in KINDS:
        raise NetworkError(f"type must be one of {', '.join(KINDS)}", path="/type")
    out: dict[str, Any] = {"name": body["name"], "type": kind, "vlan": None, "bridge": None}
    if kind == "bridge":
        if not body.get("bridge"):
            raise NetworkError("a bridge network names its Linux bridge", path="/bridge")
        for f in ("vlan", "cidr"):
            if body.get(f) is not None:
                raise NetworkError(
                    f"{f} is not acted on for a bridge network (the host's bridge decides)",
                    code="network_field_unsupported",
                    path=f"/{f}",
                )
        out["bridge"] = body["bridge"]
        return out
    if body.get("bridge"):
        raise NetworkError(f"bridge is only for bridge networks, not {kind}", path="/bridge")
    if kind == "vlan":
        if body.get("vlan") is None:
            raise NetworkError("a vlan network needs its tag (1-4094)", path="/vlan")
        out["vlan"] = int(body["vlan"])
    elif body.get("vlan") is not None:
        raise NetworkError(f"a {kind} network has no VLAN tag", path="/vlan")
    if not body.get("cidr"):
        raise NetworkError(f"a {kind} network needs a subnet (cidr)", path="/cidr")
    try:
        net = ipaddress.IPv4Network(str(body["cidr"]), strict=True)
    except ValueError as e:
        raise NetworkError(f"cidr: {e}", path="/cidr") from None
    if net.prefixlen > 29:
        raise NetworkError("the subnet must be /29 or larger", path="/cidr")
    gw = body.get("gateway", "auto")
    if gw == "auto":
        gw = str(net.network_address + 1)
    if gw is not None:
        try:
            g = ipaddress.IPv4Address(str(gw))
        except ValueError as e:
            raise NetworkError(f"gateway: {e}", path="/gateway") from None
        if g not in net or g in (net.network_address, net.broadcast_address):
            raise NetworkError(f"gateway {g} is not a host address of {net}", path="/gateway")
        gw = str(g)
    out.update(
        cidr=str(net),
        gateway=gw,
        dhcp=bool(body.get("dhcp", True)),
        dns=bool(body.get("dns", True)),
        mtu=mtu(out),
    )
    return out


def reserved(net: Mapping[str, Any]) -> set[str]:
    """Addresses no NIC may take: the gateway (also DHCP's and DNS's address)."""
    return {str(net["gateway"])} if net.get("gateway") else set()


def pick_ip(net: Mapping[str, Any], taken: Iterable[str], wanted: str | None = None) -> str:
    """The address for a new NIC: ``wanted`` if it is a free host address of the
    subnet, else the lowest free one."""
    subnet = ipaddress.IPv4Network(str(net["cidr"]))
    busy = set(taken) | reserved(net)
    if wanted is not None:
        try:
            a = ipaddress.IPv4Address(wanted)
        except ValueError:
            raise NetworkError(f"{wanted!r} is not an IPv4 address", path="ip") from None
        if a not in subnet or a in (subnet.network_address, subnet.broadcast_address):
            raise NetworkError(f"{a} is not a host address of {subnet}", path="ip")
        if str(a) in busy:
            raise NetworkError(f"{a} is already taken on this network", code="ip_taken", path="ip")
        return str(a)
    for a in subnet.hosts():
        if str(a) not in busy:
            return str(a)
    raise NetworkError(f"no free address left in {subnet}", code="network_full", path="ip")


def assign_nics(
    vm_id: str,
    nics: list[dict[str, Any]],
    asked: list[Mapping[str, Any]],
    networks: Mapping[str, Mapping[str, Any]],
    taken: Mapping[str, set[str]],
    groups: set[str] | frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The VM's NICs with, on OVN networks, their port, address (the one the user
    asked for in ``asked[i]``, else the next free one) and security groups (which
    must exist in ``groups``). ``taken``: network -> addresses in use."""
    out = []
    mine: dict[str, set[str]] = {}
    wanted = [a.get("ip") for a in asked]
    for i, n in enumerate(nics):
        net = networks.get(str(n["network"]))
        n = dict(n)
        want_groups = list(asked[i].get("groups") or []) if i < len(asked) else []
        for g in want_groups:
            if g not in groups:
                raise NetworkError(
                    f"security group {g!r} does not exist", code="unknown_reference",
                    path=f"/nics/{i}/groups",
                )  # fmt: skip
        if want_groups and not is_ovn(net):
            raise NetworkError(
                "security groups need an OVN network (overlay, vlan, isolated)",
                code="network_field_unsupported",
                path=f"/nics/{i}/groups",
            )
        if is_ovn(net):
            n["groups"] = want_groups
            assert net is not None
            used = set(taken.get(n["network"], set())) | mine.setdefault(n["network"], set())
            try:
                n["ip"] = pick_ip(net, used, wanted[i] if i < len(wanted) else None)
            except NetworkError as e:
                raise NetworkError(e.message, code=e.code, path=f"/nics/{i}/ip") from None
            mine[n["network"]].add(n["ip"])
            n["port"] = port_name(vm_id, str(n["mac"]))
        elif i < len(wanted) and wanted[i] is not None:
            raise NetworkError(
                "a fixed address needs a network with a subnet (overlay, vlan, isolated)",
                code="network_field_unsupported",
                path=f"/nics/{i}/ip",
            )
        out.append(n)
    return out
