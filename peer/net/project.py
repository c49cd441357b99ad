"""The cluster state projected into OVN's northbound database. Pure.

``desired(tables)`` returns every northbound row the cluster state implies,
each under a stable key (kept in the row's ``external_ids:qx-key``), so that
``nbsync`` can compare them with what the database holds and write only the
difference, or rebuild an empty database from nothing. Per OVN network:

- a ``Logical_Switch`` ``qx-<net>`` with one port per NIC (named after the
  NIC's tap), its address as ``"MAC IP"`` in ``addresses`` and
  ``port_security``, and ``requested-chassis`` = the host the VM is placed on
  (a host that still has the tap after the VM moved cannot claim the port);
- ``DHCP_Options`` (fixed address per port, router, MTU, DNS server, domain);
- ``DNS`` records: ``<vm>`` and ``<vm>.<net>.qx`` for each NIC;
- overlay and isolated networks: a one-port ``Logical_Router`` holding the
  gateway address (it answers ARP for the DHCP/DNS server address);
- vlan networks: a ``localnet`` port on the hosts' physical network with the tag.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peer.net import model

Tables = Mapping[str, Mapping[str, Mapping[str, Any]]]
PHYSNET = "data"  # hypervisor.ovnhost.PHYSNET: the bridge mapping every host sets
LEASE_S = 3600


@dataclass(frozen=True)
class Ref:
    """A reference to another desired row (resolved to its UUID when written)."""

    table: str
    key: str


@dataclass
class Row:
    table: str
    key: str
    cols: dict[str, Any] = field(default_factory=dict)


def router_mac(net: str) -> str:
    h = hashlib.sha256(f"router/{net}".encode()).hexdigest()
    return "02:" + ":".join(h[i : i + 2] for i in range(0, 10, 2))


def _map(d: Mapping[str, Any]) -> list[Any]:
    return ["map", [[k, str(v)] for k, v in sorted(d.items())]]


def _set(items: list[Any]) -> list[Any]:
    return ["set", items]


def desired(tables: Tables) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}

    def add(row: Row) -> Ref:
        rows[(row.table, row.key)] = row
        return Ref(row.table, row.key)

    nics: dict[str, list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]] = {}
    for vm_id, vm in sorted(tables.get("vms", {}).items()):
        for nic in vm.get("nics") or []:
            if nic.get("port") and nic.get("ip"):
                nics.setdefault(str(nic["network"]), []).append((vm_id, vm, nic))
    networks = tables.get("networks", {})
    for name, net in sorted(networks.items()):
        if model.is_ovn(net):
            _network(add, name, net, nics.get(name, []))
    members: dict[str, list[Ref]] = {}
    for name, net in networks.items():
        if model.is_ovn(net):
            for _vm_id, _vm, nic in nics.get(name, []):
                for g in nic.get("groups") or []:
                    members.setdefault(g, []).append(Ref("Logical_Switch_Port", nic["port"]))
    _security_groups(add, tables.get("secgroups", {}), members)
    return rows


def pg_name(group: str) -> str:
    """A port group's name (OVN allows letters, digits and '_' there)."""
    return "qx_sg_" + group.replace("-", "_")


ALL_GROUPED = "qx_grouped"  # every NIC in some group: what default-deny applies to


def _acl(add: Any, key: str, direction: str, priority: int, match: str, action: str) -> Ref:
    cols = {"direction": direction, "priority": priority, "match": match, "action": action}
    return add(Row("ACL", key, cols))  # type: ignore[no-any-return]


def _security_groups(
    add: Any, groups: Mapping[str, Mapping[str, Any]], members: Mapping[str, list[Ref]]
) -> None:
    """A port group per security group with one ACL per rule, and one over every
    grouped NIC: inbound IPv4 dropped unless a rule allows it, DHCP's answers
    let through, outbound allowed and tracked (so its replies come back)."""
    grouped = sorted({r for refs in members.values() for r in refs}, key=lambda r: r.key)
    if grouped:
        out, to = f"outport == @{ALL_GROUPED}", f"inport == @{ALL_GROUPED}"
        acls = [
            _acl(add, "grouped/drop-in", "to-lport", 1000, f"{out} && ip4", "drop"),
            _acl(add, "grouped/dhcp", "to-lport", 1001,
                 f"{out} && ip4 && udp.src == 67 && udp.dst == 68", "allow"),
            _acl(add, "grouped/out", "from-lport", 1000, f"{to} && ip4", "allow-related"),
        ]  # fmt: skip
        add(Row("Port_Group", "grouped", {"name": ALL_GROUPED, "ports": _set(grouped),
                                          "acls": _set(acls)}))  # fmt: skip
    for g, sg in sorted(groups.items()):
        acls = []
        for i, r in enumerate(sg.get("rules") or []):
            match = f"outport == @{pg_name(g)} && ip4"
            if r.get("group"):
                match += f" && ip4.src == ${pg_name(str(r['group']))}_ip4"
            elif r.get("cidr") and r["cidr"] != "0.0.0.0/0":
                match += f" && ip4.src == {r['cidr']}"
            proto = r.get("protocol")
            if proto == "icmp":
                match += " && icmp4"
            elif proto in ("tcp", "udp"):
                lo, hi = int(r.get("port_min") or 1), int(r.get("port_max") or 65535)
                match += f" && {proto}.dst == {lo}" if lo == hi else (
                    f" && {proto}.dst >= {lo} && {proto}.dst <= {hi}")  # fmt: skip
            acls.append(_acl(add, f"acl/{g}/{i}", "to-lport", 1100, match, "allow-related"))
        ports = sorted(members.get(g, []), key=lambda r: r.key)
        add(Row("Port_Group", f"pg/{g}", {"name": pg_name(g), "ports": _set(ports),
                                          "acls": _set(acls)}))  # fmt: skip


def _network(add: Any, name: str, net: Mapping[str, Any], nics: list[tuple[str, Any, Any]]) -> None:
    subnet = ipaddress.IPv4Network(str(net["cidr"]))
    gw = net.get("gateway")
    mac = router_mac(name)
    ports: list[Ref] = []
    dhcp = None
    if net.get("dhcp", True):
        server = gw or str(subnet.broadcast_address - 1)
        opts: dict[str, Any] = {
            "server_id": server,
            "server_mac": mac,
            "lease_time": LEASE_S,
            "mtu": model.mtu(net),
        }
        if gw:
            opts["router"] = gw
            if net.get("dns", True):
                opts["dns_server"] = gw
                opts["domain_name"] = f'"{name}.{model.DNS_DOMAIN}"'
        dcols = {"cidr": str(subnet), "options": _map(opts)}
        dhcp = add(Row("DHCP_Options", f"dhcp/{name}", dcols))
    records: dict[str, str] = {}
    for vm_id, vm, nic in nics:
        addr = f"{nic['mac']} {nic['ip']}"
        cols: dict[str, Any] = {
            "name": nic["port"],
            "addresses": _set([addr]),
            "port_security": _set([addr]),
            "dhcpv4_options": _set([dhcp] if dhcp else []),
            "options": _map({"requested-chassis": vm["placement"]} if vm.get("placement") else {}),
            "external_ids": {"qx-vm": vm_id},
        }
        ports.append(add(Row("Logical_Switch_Port", nic["port"], cols)))
        vm_name = str(vm.get("name") or vm_id).lower()
        records[vm_name] = str(nic["ip"])
        records[f"{vm_name}.{name}.{model.DNS_DOMAIN}"] = str(nic["ip"])
    if net.get("type") == "vlan":
        ports.append(
            add(
                Row(
                    "Logical_Switch_Port",
                    f"ln/{name}",
                    {
                        "name": f"qx-ln-{name}",
                        "type": "localnet",
                        "addresses": _set(["unknown"]),
                        "options": _map({"network_name": PHYSNET}),
                        "tag_request": int(net["vlan"]),
                    },
                )
            )
        )
    elif gw:
        lrp = add(
            Row(
                "Logical_Router_Port",
                f"lrp/{name}",
                {
                    "name": f"qx-rp-{name}",
                    "mac": mac,
                    "networks": _set([f"{gw}/{subnet.prefixlen}"]),
                },
            )
        )
        add(Row("Logical_Router", f"lr/{name}", {"name": f"qx-r-{name}", "ports": _set([lrp])}))
        ports.append(
            add(
                Row(
                    "Logical_Switch_Port",
                    f"rsp/{name}",
                    {
                        "name": f"qx-rs-{name}",
                        "type": "router",
                        "addresses": _set(["router"]),
                        "options": _map({"router-port": f"qx-rp-{name}"}),
                    },
                )
            )
        )
    dns = []
    if net.get("dns", True) and records:
        dns = [add(Row("DNS", f"dns/{name}", {"records": _map(records)}))]
    add(
        Row(
            "Logical_Switch",
            f"ls/{name}",
            {
                "name": f"qx-{name}",
                "ports": _set(ports),
                "dns_records": _set(dns),
                "external_ids": {"qx-network": name},
            },
        )
    )
