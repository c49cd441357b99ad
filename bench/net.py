"""``python -m bench net [--json] [--no-lab]``: QuantumNet's figures.

Without a lab: ``ports_10k_project_s``, 10,000 NIC ports (on 10 networks, with
DHCP, DNS and a security group) projected into a fresh northbound database of a
real ovsdb-server, and ``ports_10k_noop_s``, the pass that finds nothing to change.

With a 2-host lab (the default; data network, real TCG test guests):

- ``ovn_idle_cpu_pct_hN``: every OVS/OVN process of host N together, no guests,
  over 20 s (% of one core);
- ``port_up_s``: a VM created on a new overlay network until its logical port is
  up (tap plugged, bound by the host's ovn-controller); ``lease_s``: until the
  guest prints its DHCP lease (this one includes the TCG guest's kernel boot);
- ``overlay_ping_p50_ms``/``p99``: guest-to-guest pings across hosts (TCG guests:
  the guests' own latency dominates);
- ``sg_update_s``: a security-group rule changed until every chassis has the
  flows (``ovn-nbctl --wait=hv sync`` on the central host returned);
- ``migration_ping_loss``: pings (every 0.5 s) lost while the pinged guest moves
  live to the other host.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.verdict import Report
from chaos.lab import Lab
from chaos.lab.system import netns_pids
from hypervisor import ovnhost
from hypervisor.ovnhost import OvnPaths
from hypervisor.ovsdb import OvsdbClient
from peer.net import nbsync, project
from testkit.labguest import guest_vm, register_test_guest, serial
from testkit.localapi import LocalApi
from testkit.wait import wait_for

TARGETS = {
    "ports_10k_project_s": "<= 30",
    "port_up_s": "<= 2",
    "sg_update_s": "<= 1",
    "migration_ping_loss": "<= 1",
}
OVN_PROCS = ("ovsdb-server", "ovs-vswitchd", "ovn-controller", "ovn-northd")
PING_RE = re.compile(r"QUANTIX-PING (\S+) (ok|lost)(?: ([0-9.]+))?")


def _nb_server(root: Path) -> tuple[subprocess.Popen[bytes], OvsdbClient]:
    p = OvnPaths(root / "ovn")
    ovnhost.prepare_dirs(p)
    ovnhost.fresh_central(p)
    d = next(d for d in ovnhost.central_daemons(p, "127.0.0.1") if d.name == "ovsdb-nb")
    argv = [a for a in d.argv if not a.startswith("--remote=ptcp")]
    proc = subprocess.Popen(argv, env={**d.env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    client = OvsdbClient(f"unix:{p.nb_sock}", timeout=120)
    wait_for(lambda: p.nb_sock.exists() and client.ping(), 10, "the NB ovsdb-server")
    return proc, client


def projection(ports: int = 10_000) -> dict[str, Any]:
    nets = {
        f"n{i}": {"type": "overlay", "cidr": f"10.{100 + i}.0.0/18", "gateway": f"10.{100 + i}.0.1"}
        for i in range(10)
    }
    vms = {}
    for i in range(ports):
        net = f"n{i % 10}"
        k = i // 10 + 2
        ip = f"10.{100 + i % 10}.{k // 256}.{k % 256}"
        mac = f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        nic = {"network": net, "mac": mac, "ip": ip, "port": f"qxt{i:011x}", "groups": ["web"]}
        vms[f"vm{i}"] = {"name": f"vm{i}", "placement": f"h{i % 3}", "nics": [nic]}
    sg = {"web": {"rules": [{"protocol": "tcp", "port_min": 80, "port_max": 80}]}}
    tables: dict[str, Any] = {"networks": nets, "vms": vms, "secgroups": sg}
    root = Path(tempfile.mkdtemp(prefix="qxbn", dir="/tmp"))
    proc, nb = _nb_server(root)
    try:
        t0 = time.monotonic()
        rows = project.desired(tables)
        written = nbsync.sync(nb, rows)
        first = time.monotonic() - t0
        t0 = time.monotonic()
        again = nbsync.sync(nb, project.desired(tables))
        noop = time.monotonic() - t0
    finally:
        nb.close()
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    return {
        "ports_10k_project_s": round(first, 2),
        "ports_10k_noop_s": round(noop, 2),
        "ports_10k_rows": len(rows),
        "ports_10k_ops": written,
        "noop_ops": again,
    }


def _cpu_ticks(ns: str) -> int:
    total = 0
    for pid in netns_pids(ns):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm in OVN_PROCS:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(f[11]) + int(f[12])
        except (OSError, IndexError, ValueError):
            continue
    return total


def idle_cpu(lab: Lab, seconds: float) -> dict[str, float]:
    import os

    hz = os.sysconf("SC_CLK_TCK")
    hosts = lab.hosts()
    before = {h.name: _cpu_ticks(h.netns) for h in hosts}
    time.sleep(seconds)
    return {
        f"ovn_idle_cpu_pct_{h.name}": round(
            100 * (_cpu_ticks(h.netns) - before[h.name]) / hz / seconds, 2
        )
        for h in hosts
    }


def _api(lab: Lab, host: str) -> LocalApi:
    return LocalApi(lab.host(host).dir / "peer.sock", timeout=20)


def _running_on(via: LocalApi, vm: str) -> str | None:
    v = via.get(f"/vms/{vm}")
    st = v.get("status") or {}
    ok = st.get("state") == "running" and st.get("node") == v.get("placement")
    return str(st["node"]) if ok else None


def _node_id(lab: Lab, host: str) -> str:
    def ask() -> str:
        return str(_api(lab, host).get("/peer")["node_id"])

    return str(wait_for(ask, 120, f"{host}'s API"))


def _wait_running(via: LocalApi, vm: str) -> str:
    return str(wait_for(lambda: _running_on(via, vm), 180, f"{vm} running"))


def _nbctl(lab: Lab, host: str, *args: str, timeout: float = 30) -> str:
    sock = lab.host(host).data_dir / "ovn" / "run" / "ovnnb_db.sock"
    res = lab.exec(host, ["ovn-nbctl", f"--db=unix:{sock}", f"--timeout={int(timeout)}", *args],
                   capture_output=True, text=True, timeout=timeout + 5)  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip())
    return str(res.stdout)


def lab_figures(idle_s: float) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="qxbn", dir="/tmp"))
    lab = Lab("bn" + secrets.token_hex(3), root)
    out: dict[str, Any] = {}
    try:
        hosts = lab.up(2, data_net=True)
        node_ids = {h.name: _node_id(lab, h.name) for h in hosts}
        apis = {node_ids[h.name]: _api(lab, h.name) for h in hosts}
        via = _api(lab, hosts[0].name)

        def ready() -> bool:
            return all(
                (a.get("/peer").get("network") or {}).get("sb_remote") for a in apis.values()
            )

        wait_for(ready, 180, "every chassis pointed at the central databases")
        out.update(idle_cpu(lab, idle_s))
        central = next(
            h.name for h in hosts if _api(lab, h.name).get("/peer")["network"]["central"]
        )
        boot = register_test_guest(via)
        assert via.post("/security_groups", {"name": "web", "rules": []})[0] == 201
        t0 = time.monotonic()
        assert via.post("/networks", {"name": "blue", "cidr": "10.62.0.0/24"})[0] == 201
        ids = []
        for name, peer in (("alpha", "beta"), ("beta", "alpha")):
            cmd = f"{boot['cmdline']} qx.hostname={name} qx.ping={peer}"
            nic = {"network": "blue", "groups": ["web"]} if name == "alpha" else {"network": "blue"}
            spec = {**guest_vm(name, {**boot, "cmdline": cmd}, desired="running"), "nics": [nic]}
            status, body = via.post("/vms", spec)
            assert status == 201, body
            ids.append(body["id"])
        port = via.get(f"/vms/{ids[0]}")["nics"][0]["port"]

        def port_up() -> bool:
            return "true" in _nbctl(lab, central, "get", "logical_switch_port", port, "up")

        wait_for(port_up, 120, "alpha's port up", interval=0.05)
        out["port_up_s"] = round(time.monotonic() - t0, 2)
        wait_for(lambda: "QUANTIX-NET:" in serial(apis, ids[0]), 180, "alpha's lease", 0.2)
        out["lease_s"] = round(time.monotonic() - t0, 2)
        where = [_wait_running(via, v) for v in ids]
        if where[0] == where[1]:
            other = next(n for n in apis if n != where[0])
            via.post(f"/vms/{ids[1]}/migrate", {"node": other, "live": True})
            wait_for(lambda: _running_on(via, ids[1]) == other, 240, "beta moved")
        # alpha is in a group with no rule: allow ICMP, time until every chassis has it.
        t0 = time.monotonic()
        status, body = via.call("PATCH", "/security_groups/web", {"rules": [{"protocol": "icmp"}]})
        assert status == 200, body
        wait_for(lambda: "icmp4" in _nbctl(lab, central, "acl-list", "qx_sg_web"), 30, "the ACL")
        _nbctl(lab, central, "--wait=hv", "sync")
        out["sg_update_s"] = round(time.monotonic() - t0, 2)
        wait_for(lambda: "PING alpha ok" in serial(apis, ids[1]), 120, "beta pinging alpha")

        def rtts() -> list[float]:
            return [
                float(m.group(3))
                for v in ids
                for m in PING_RE.finditer(serial(apis, v))
                if m.group(2) == "ok" and m.group(3)
            ]

        wait_for(lambda: len(rtts()) >= 40, 180, "40 pings answered", 1.0)
        samples = rtts()
        out["overlay_ping_p50_ms"] = round(statistics.median(samples), 2)
        out["overlay_ping_p99_ms"] = round(statistics.quantiles(samples, n=100)[98], 2)
        out["ping_samples"] = len(samples)
        # Move alpha (the pinged one) live and count beta's lost pings meanwhile.
        src = _running_on(via, ids[0])
        dst = next(n for n in apis if n != src)
        mark = len(serial(apis, ids[1]))
        status, task = via.post(f"/vms/{ids[0]}/migrate", {"node": dst, "live": True})
        assert status == 202, task
        wait_for(lambda: _running_on(via, ids[0]) == dst, 240, "alpha moved")
        moved_at = len(serial(apis, ids[1]))

        def answered_since_move() -> int:
            tail = serial(apis, ids[1])[moved_at:]
            return sum(m.group(2) == "ok" for m in PING_RE.finditer(tail))

        wait_for(lambda: answered_since_move() >= 5, 180, "pings answered after the move", 1.0)
        after = [m.group(2) for m in PING_RE.finditer(serial(apis, ids[1])[mark:])]
        out["migration_ping_loss"] = after.count("lost")
        out["migration_pings_seen"] = len(after)
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench net")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--no-lab", action="store_true", help="only the projection figures")
    ap.add_argument("--ports", type=int, default=10_000)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    out = projection(args.ports)
    if not args.no_lab:
        out.update(lab_figures(args.idle_seconds))
    r = Report("bench net")
    for k, v in out.items():
        target = TARGETS.get(k) or ("<= 1" if k.startswith("ovn_idle_cpu_pct") else None)
        r.figure(k, v, target)
    for k, target in TARGETS.items():
        if k not in out and not (args.no_lab and k != "ports_10k_project_s"):
            r.figure(k, None, target)
    r.check("noop pass writes nothing", out.get("noop_ops") == 0, f"{out.get('noop_ops')} ops")
    with open("/proc/loadavg") as f:
        r.note("load", f.read().split()[0])
    return r.emit(args.json)
