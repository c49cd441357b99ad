"""The projection into a real OVN northbound database: written once, then only
differences, and rebuilt from the cluster state after the database is wiped."""

from __future__ import annotations

import json
import subprocess

from peer.net import nbsync
from peer.net.project import desired

NETS = {
    "blue": {"type": "overlay", "cidr": "10.9.0.0/24", "gateway": "10.9.0.1", "vlan": None},
    "v10": {"type": "vlan", "vlan": 10, "cidr": "10.10.0.0/24", "gateway": "10.10.0.1"},
    "lan": {"type": "bridge", "bridge": "br0"},
}


def _vm(name, placement, *nics):
    return {"name": name, "placement": placement, "nics": [dict(n) for n in nics]}


def _nic(net, mac, ip, port):
    return {"network": net, "mac": mac, "ip": ip, "port": port}


def tables(**vms):
    return {"networks": NETS, "vms": vms}


def nbctl(nb, *args):
    out = subprocess.run(
        ["ovn-nbctl", f"--db={nb.remote}", "--format=json", *args],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    return json.loads(out.stdout) if out.stdout.startswith("{") else out.stdout


def rows(nb, table, *cols):
    data = nbctl(nb, f"--columns={','.join(cols)}", "list", table)
    return [dict(zip(data["headings"], r, strict=True)) for r in data["data"]]


VMS = {
    "a1": _vm("web", "n1", _nic("blue", "52:54:00:00:00:01", "10.9.0.2", "qxt00000000001")),
    "a2": _vm(
        "db",
        "n2",
        _nic("blue", "52:54:00:00:00:02", "10.9.0.3", "qxt00000000002"),
        _nic("v10", "52:54:00:00:00:03", "10.10.0.2", "qxt00000000003"),
    ),
}


def test_the_projection_is_written_then_only_its_differences(nb):
    assert nbsync.sync(nb, desired(tables(**VMS))) > 0
    switches = {r["name"] for r in rows(nb, "Logical_Switch", "name")}
    assert switches == {"qx-blue", "qx-v10"}  # the bridge network is not OVN's
    ports = {r["name"]: r for r in rows(nb, "Logical_Switch_Port", "name", "addresses", "options")}
    assert ports["qxt00000000002"]["addresses"] == "52:54:00:00:00:02 10.9.0.3"
    assert ["requested-chassis", "n2"] in ports["qxt00000000002"]["options"][1]
    ln = ports["qx-ln-v10"]
    assert ["network_name", "data"] in ln["options"][1]
    dns = [p for r in rows(nb, "DNS", "records") for p in r["records"][1]]
    assert ["web", "10.9.0.2"] in dns and ["db.blue.qx", "10.9.0.3"] in dns
    # Nothing changed: nothing written.
    assert nbsync.sync(nb, desired(tables(**VMS))) == 0
    # The VM moved to another host: one port updated, nothing else.
    moved = {**VMS, "a1": {**VMS["a1"], "placement": "n3"}}
    assert nbsync.plan(desired(tables(**moved)), nbsync.read(nb)) == [
        op for op in nbsync.plan(desired(tables(**moved)), nbsync.read(nb))
        if op["table"] == "Logical_Switch_Port"
    ]  # fmt: skip
    assert nbsync.sync(nb, desired(tables(**moved))) == 1
    # A VM deleted: its ports go (with the switch's port list) and its DNS names.
    assert nbsync.sync(nb, desired(tables(a1=moved["a1"]))) > 0
    names = {r["name"] for r in rows(nb, "Logical_Switch_Port", "name")}
    assert "qxt00000000002" not in names and "qxt00000000003" not in names


def test_a_wiped_database_is_rebuilt_and_strangers_removed(nb):
    nbsync.sync(nb, desired(tables(**VMS)))
    before = sorted(r["name"] for r in rows(nb, "Logical_Switch_Port", "name"))
    for table in ("Logical_Switch", "Logical_Router", "DHCP_Options", "DNS"):
        for r in rows(nb, table, "_uuid"):
            nbctl(nb, "destroy", table, r["_uuid"][1])
    nbctl(nb, "ls-add", "stranger")
    assert rows(nb, "Logical_Switch_Port", "name") == []
    nbsync.sync(nb, desired(tables(**VMS)))
    assert sorted(r["name"] for r in rows(nb, "Logical_Switch_Port", "name")) == before
    assert "stranger" not in {r["name"] for r in rows(nb, "Logical_Switch", "name")}
    assert nbsync.sync(nb, desired(tables(**VMS))) == 0


def test_security_groups_become_port_groups_with_acls(nb):
    web = _nic("blue", "52:54:00:00:00:01", "10.9.0.2", "qxt00000000001")
    vms = {"a1": _vm("web", "n1", {**web, "groups": ["web"]})}
    sg = {"web": {"rules": [{"protocol": "tcp", "port_min": 80, "port_max": 80,
                             "cidr": "0.0.0.0/0", "group": None}]}}  # fmt: skip
    nbsync.sync(nb, desired({**tables(**vms), "secgroups": sg}))
    pgs = {r["name"] for r in rows(nb, "Port_Group", "name")}
    assert pgs == {"qx_sg_web", "qx_grouped"}
    matches = {r["match"]: r["action"] for r in rows(nb, "ACL", "match", "action")}
    assert matches["outport == @qx_sg_web && ip4 && tcp.dst == 80"] == "allow-related"
    assert matches["outport == @qx_grouped && ip4"] == "drop"
    # The rule changed: the ACL is rewritten in place; nothing else moves.
    sg["web"]["rules"][0]["port_min"] = sg["web"]["rules"][0]["port_max"] = 8080
    ops = nbsync.plan(desired({**tables(**vms), "secgroups": sg}), nbsync.read(nb))
    assert [(o["op"], o["table"]) for o in ops] == [("update", "ACL")]
