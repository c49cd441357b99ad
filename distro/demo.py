"""``make demo-os``: three Quantix-OS virtual machines, started in factory state on
one bridge, become one cluster — paired from their consoles.

- a network namespace ``qxos-demo`` holds a Linux bridge with a DHCP server
  (dnsmasq) and one tap device per VM; a veth pair puts this machine on the
  bridge (10.88.0.1), so a browser here reaches every host's web UI;
- each VM (QEMU TCG, OVMF, 1.5 GiB) boots a copy-on-write overlay of
  ``build/os/quantix-os.img``: a factory host, whose console opens the
  first-boot wizard;
- the wizard is driven on each VM's serial console (tmux), one after the other,
  with the same cluster name and secret: the first founds the cluster, the others
  find it on mDNS and join;
- when any host lists all three, the URLs and the admin login are printed, and
  the demo stays up until Ctrl-C (``--detach`` leaves it running; ``--down`` removes it).

Watch a console: ``tmux -L qxos-demo1 attach`` (Ctrl-b d to leave it).
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import subprocess
import sys
import time

from distro.paths import CACHE, REPO
from distro.run import log

NS = "qxos-demo"
BRIDGE = "br0"
HOST_IP = "10.88.0.1"
PREFIX = "10.88.0"
NODES = 3
CLUSTER = "demo"
# Made per run and printed: a demo on a shared machine should not have a known login.
SECRET = secrets.token_urlsafe(12)
PASSWORD = secrets.token_urlsafe(9)
WORK = CACHE / "demo"


def sh(*argv: str, check: bool = True) -> None:
    subprocess.run(list(argv), check=check, capture_output=not check)


def ns(*argv: str, check: bool = True) -> None:
    sh("ip", "netns", "exec", NS, *argv, check=check)


def network_up(nodes: int) -> None:
    down()
    sh("ip", "netns", "add", NS)
    ns("ip", "link", "set", "lo", "up")
    # mDNS must flood the bridge: no IGMP querier here, so no snooping.
    ns("ip", "link", "add", BRIDGE, "type", "bridge", "mcast_snooping", "0")
    ns("ip", "link", "set", BRIDGE, "up")
    sh("ip", "link", "add", "qxos-demo-h", "type", "veth", "peer", "name", "qxos-demo-n")
    sh("ip", "link", "set", "qxos-demo-n", "netns", NS)
    ns("ip", "link", "set", "qxos-demo-n", "master", BRIDGE, "up")
    sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", "qxos-demo-h")
    sh("ip", "link", "set", "qxos-demo-h", "up")
    for i in range(1, nodes + 1):
        ns("ip", "tuntap", "add", f"tap{i}", "mode", "tap")
        ns("ip", "link", "set", f"tap{i}", "master", BRIDGE, "up")
    # DHCP with a fixed address per VM (by MAC), served inside the namespace.
    ns("ip", "addr", "add", f"{PREFIX}.2/24", "dev", BRIDGE)
    hosts = [f"--dhcp-host=52:54:00:88:00:{i:02x},{PREFIX}.{10 + i}" for i in range(1, nodes + 1)]
    WORK.mkdir(parents=True, exist_ok=True)
    ns(
        "dnsmasq",
        f"--interface={BRIDGE}",
        "--bind-interfaces",
        "--port=0",
        "--user=root",  # dnsmasq-base makes no user of its own
        "--conf-file=/dev/null",
        f"--dhcp-range={PREFIX}.100,{PREFIX}.200,12h",
        f"--dhcp-leasefile={WORK / 'leases'}",
        f"--pid-file={WORK / 'dnsmasq.pid'}",
        *hosts,
    )


def down() -> None:
    for i in range(1, 10):
        sh("tmux", "-L", f"qxos-demo{i}", "kill-server", check=False)
    pid = WORK / "dnsmasq.pid"
    if pid.exists():
        sh("kill", pid.read_text().strip(), check=False)
        pid.unlink(missing_ok=True)
    sh("ip", "link", "del", "qxos-demo-h", check=False)
    sh("ip", "netns", "del", NS, check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m distro demo", description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=NODES)
    ap.add_argument("--memory", type=int, default=1536, help="MiB per VM")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each step")
    ap.add_argument("--detach", action="store_true", help="leave the VMs running and return")
    ap.add_argument("--down", action="store_true", help="stop the VMs, remove the network")
    args = ap.parse_args(argv)
    if args.down:
        down()
        return 0
    from testkit.osvm import IMAGE, OsApi, OsVm, run_wizard
    from testkit.wait import wait_for

    subprocess.run([sys.executable, "-m", "distro", "build"], cwd=REPO, check=True)
    network_up(args.nodes)
    vms = [
        OsVm(
            f"demo{i}",
            WORK,
            image=IMAGE,
            memory_mib=args.memory,
            tap=f"tap{i}",
            mac=f"52:54:00:88:00:{i:02x}",
            netns=NS,
            address=f"{PREFIX}.{10 + i}",
        )
        for i in range(1, args.nodes + 1)
    ]
    started = time.monotonic()
    try:
        for vm in vms:
            vm.prepare()
            vm.start()
            log(f"{vm.name}: started (tmux -L {vm.session} attach)")
        for vm in vms:
            vm.wait_screen("1/4 Host name", args.timeout)
            log(f"{vm.name}: factory state, first-boot wizard on its console "
                f"({time.monotonic() - started:.0f} s)")  # fmt: skip
        for vm in vms:
            run_wizard(vm, f"qx-{vm.name}", PASSWORD, CLUSTER, SECRET)
            log(f"{vm.name}: wizard done: create or join cluster {CLUSTER!r}")
        api = OsApi(vms[0])
        wait_for(lambda: api.login("admin", PASSWORD), args.timeout, "the admin's login", 2)
        wait_for(
            lambda: len(api.get("/cluster").get("members") or []) == args.nodes,  # type: ignore[arg-type]
            args.timeout,
            f"{args.nodes} hosts in cluster {CLUSTER!r}",
            2,
        )
        took = time.monotonic() - started
        print(f"\ncluster {CLUSTER!r}: {args.nodes} Quantix-OS hosts in {took:.0f} s")
        for vm in vms:
            print(f"  {vm.name}  https://{vm.address}:8443/   console: tmux -L {vm.session} attach")
        print(f"login: admin / {PASSWORD}")
        if args.detach:
            return 0
        print("attached: Ctrl-C stops the VMs and removes the network")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        if not args.detach:
            for vm in vms:
                vm.stop()
            down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
