"""``quantix lab ...``: build, inspect and tear down the lab from a shell.

``main(argv)`` is what the ``quantix`` dispatcher delegates to.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from chaos.client import PeerClient
from chaos.lab.errors import LabError
from chaos.lab.host import Host
from chaos.lab.lab import DEFAULT_NAME, DEFAULT_ROOT, Lab


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quantix lab", description="N Quantix hosts on this machine")
    p.add_argument(
        "--name", default=DEFAULT_NAME, help="lab name, 1-8 of [a-z0-9] (default %(default)s)"
    )
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where lab dirs live")
    sub = p.add_subparsers(dest="cmd", required=True)

    def membership(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--factory", action="store_true", help="hosts in factory state (no cluster)"
        )
        sp.add_argument("--cluster", help="cluster name in node.yaml (default: the lab's)")
        sp.add_argument(
            "--secret-file", type=Path, help="cluster secret to use (default: generated)"
        )

    up = sub.add_parser("up", help="create N hosts and start their peers")
    up.add_argument("--nodes", type=int, default=3)
    membership(up)
    up.add_argument("--peer-cmd", help="command run in each namespace instead of `quantix peer`")
    up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C tears down")
    up.add_argument("--wait", type=float, default=90.0, help="seconds to wait for the admin login")
    up.add_argument(
        "--no-data-net",
        action="store_true",
        help="no data network (eth1): the hosts run no Open vSwitch/OVN, only bridge networks",
    )
    up.add_argument(
        "--firewall",
        action="store_true",
        help="hosts guard the Raft port and migrations with nftables (node.yaml firewall)",
    )
    add = sub.add_parser("add", help="add one host to a running lab")
    membership(add)
    down = sub.add_parser("down", help="remove everything the lab made")
    down.add_argument(
        "--all", action="store_true", help="every lab and qx-* leftover on this machine"
    )
    st = sub.add_parser("status", help="each host: namespace, peer, API health")
    st.add_argument("--json", action="store_true")
    for name, text in (
        ("kill", "kill -9 every process of a host"),
        ("start", "start a host's peer"),
        ("stop", "SIGTERM a host's peer"),
    ):
        sub.add_parser(name, help=text).add_argument("host")
    ex = sub.add_parser("exec", help="run a command in a host's namespace")
    ex.add_argument("host")
    ex.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    peer_cmd = shlex.split(args.peer_cmd) if getattr(args, "peer_cmd", None) else None
    lab = Lab(
        args.name,
        args.root,
        peer_cmd=peer_cmd,
        cluster=getattr(args, "cluster", None),
        firewall=getattr(args, "firewall", False),
    )
    try:
        return _dispatch(lab, args)
    except LabError as e:
        print(f"quantix lab: {e}", file=sys.stderr)
        return 1


def _dispatch(lab: Lab, args: argparse.Namespace) -> int:
    cmd = args.cmd
    if cmd == "up":
        return _up(lab, args)
    if cmd == "add":
        h = lab.add_host(factory=args.factory, cluster=args.cluster, secret=_secret(args))
        _print_hosts([h])
    elif cmd == "down":
        if args.all:
            names = Lab.down_all(args.root)
        else:
            lab.down()
            names = [lab.name]
        print(f"removed lab(s): {', '.join(names) or 'none'}")
    elif cmd == "status":
        rows = lab.status()
        if args.json:
            print(json.dumps(rows, indent=1))
        else:
            print(
                f"{'host':5} {'address':13} {'peer':>8} {'procs':>5}  {'health':11} {'role':9} url"
            )
            for r in rows:
                peer = str(r["pid"]) if r["running"] else "down"
                ns = "" if r["netns_present"] else " (no netns!)"
                print(f"{r['host']:5} {r['address']:13} {peer:>8} {r['processes']:>5}  "
                      f"{r['health']:11} {r['role'] or '-':9} {r['url']}{ns}")  # fmt: skip
    elif cmd == "kill":
        print(f"killed: {' '.join(map(str, lab.kill(args.host))) or 'nothing'}")
    elif cmd == "start":
        print(f"{args.host}: peer started (pid {lab.start(args.host).pid})")
    elif cmd == "stop":
        ok = lab.stop(args.host)
        print(f"{args.host}: {'stopped' if ok else 'still running after SIGTERM'}")
        return 0 if ok else 1
    elif cmd == "exec":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not argv:
            print("quantix lab exec HOST -- CMD...", file=sys.stderr)
            return 2
        return lab.exec(args.host, argv).returncode
    return 0


def _secret(args: argparse.Namespace) -> str | None:
    if args.secret_file is None:
        return None
    try:
        return str(args.secret_file.read_text().strip())
    except OSError as e:
        raise LabError(f"cannot read {args.secret_file}: {e.strerror}") from None


DEFAULT_NETWORK = {"name": "default", "type": "overlay", "cidr": "10.100.0.0/24"}


def default_network(host: Host, timeout: float) -> str:
    """An overlay network every host reaches, so a new lab's VMs have one to use
    (through the host's local socket, the local admin); says what happened."""
    client = PeerClient(host.name, str(host.dir / "peer.sock"), timeout=10)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        r = client.request("POST", "/networks", DEFAULT_NETWORK)
        if r.status in (201, 409):
            name, cidr = DEFAULT_NETWORK["name"], DEFAULT_NETWORK["cidr"]
            return f"network: {name} (overlay {cidr}, DHCP, DNS)"
        last = str(r.body)[:200] if r.status else str(r.error)
        time.sleep(1.0)
    return f"no default network ({last}): create one with `quantix network create NAME --cidr ...`"


def _print_hosts(hosts: list[Host]) -> None:
    for h in hosts:
        state = "factory" if h.cluster is None else f"cluster {h.cluster}"
        print(f"  {h.name:4} {h.url:28} netns {h.netns:14} ({state})")


def _up(lab: Lab, args: argparse.Namespace) -> int:
    stop = threading.Event()
    if args.foreground:
        # Installed before building, so Ctrl-C during `up` also tears down.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    hosts = lab.up(
        args.nodes,
        factory=args.factory,
        cluster=args.cluster,
        secret=_secret(args),
        data_net=not args.no_data_net,
    )
    print(f"lab {lab.name!r}: {len(hosts)} host(s); this machine is {lab.state().bridge_address}")
    _print_hosts(hosts)
    if hosts and not args.peer_cmd and not args.factory:
        password = lab.admin_password(timeout=args.wait)
        if password:
            print(f"login: admin / {password}")
            if not args.no_data_net:
                print(default_network(hosts[0], timeout=args.wait))
        else:
            print(f"no admin password yet: see {hosts[0].log} and `quantix lab status`")
    if not args.foreground:
        print(f"take it down with: quantix lab down --name {lab.name}")
        return 0
    print("attached: Ctrl-C tears the lab down")
    while not stop.wait(1.0):
        pass
    print("tearing down...")
    lab.down()
    return 0
