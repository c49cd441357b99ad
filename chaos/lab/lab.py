"""``Lab``: N Quantix hosts on this machine, one network namespace each.

    bridge qxbr-<lab> (10.77.K.1/22, on this machine)
      ├── qv<lab>-1 ══ veth ══ eth0 in netns qx-<lab>-h1 (10.77.K.2)  peer h1
      ├── qv<lab>-2 ══ veth ══ eth0 in netns qx-<lab>-h2 (10.77.K.3)  peer h2
      └── ...

Each host has a directory <root>/<lab>/hN (node.yaml 0600, data/, libvirt/,
peer.log) and a peer process started with ``ip netns exec`` in its own session.
Every resource is written to the state file before it is created, so ``down``
removes everything even after a crash of ``up``; ``down`` also finds leftovers
by name. Requires root. Not thread-safe: one Lab object per thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chaos.lab import addressing as an
from chaos.lab import system
from chaos.lab.capture import count_udp_packets
from chaos.lab.errors import LabError, LabStateError, UnknownHost
from chaos.lab.files import machine_lock, write_private
from chaos.lab.host import Host, poll_until
from chaos.lab.http import ApiError, get_json
from chaos.lab.nodeconf import render_node_yaml
from chaos.lab.state import HostState, LabState

DEFAULT_ROOT = Path(os.environ.get("QUANTIX_LAB_ROOT", "/var/lib/quantix-lab"))
DEFAULT_NAME = os.environ.get("QUANTIX_LAB", "lab")
DEFAULT_PEER_CMD = ("{quantix}", "peer", "--config", "{config}")
MGMT_INTERFACE = "eth0"
DATA_INTERFACE = "eth1"
PASSWORD_FILE = "initial-admin-password"  # noqa: S105 (a file name)


class Lab:
    def __init__(
        self,
        name: str = DEFAULT_NAME,
        root: Path = DEFAULT_ROOT,
        *,
        peer_cmd: Sequence[str] | None = None,
        cluster: str | None = None,
        api_port: int = 8443,
        firewall: bool = False,
    ) -> None:
        """``peer_cmd``: what runs in each namespace (default ``quantix peer --config``);
        placeholders {config} {dir} {data_dir} {address} {host} {interface}
        {api_port} {python} {quantix} are filled in per host.
        ``cluster``: the lab's cluster name (default: the lab name).
        ``firewall``: hosts keep the Raft port and migration listeners to their
        peers with nftables inside their namespaces (node.yaml ``firewall``)."""
        an.check_name(name)
        self.name = name
        self.root = Path(root)
        self.dir = self.root / name
        self._peer_cmd = list(peer_cmd) if peer_cmd else None
        self._cluster = cluster or name
        self._api_port = api_port
        self._firewall = firewall
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    # -- reading -----------------------------------------------------------

    @property
    def shared_dir(self) -> Path:
        """A directory every lab host sees: each host's pool root ``shared``
        (the lab's stand-in for shared storage mounted on every host)."""
        return self.dir / "shared"

    def state(self) -> LabState:
        st = LabState.load(self.dir)
        if st is None:
            raise LabStateError(f"lab {self.name!r} is not up (no {self.dir / 'lab.json'})")
        return st

    def exists(self) -> bool:
        return LabState.load(self.dir) is not None

    def hosts(self) -> list[Host]:
        st = self.state()
        return [self._view(st, h) for h in sorted(st.hosts.values(), key=lambda h: h.index)]

    def host(self, name: str) -> Host:
        st = self.state()
        return self._view(st, self._host_state(st, name))

    def cluster_secret(self, cluster: str | None = None) -> str:
        """The secret the lab generated for a cluster name (default: the lab's cluster)."""
        st = self.state()
        return self._secret_path(cluster or st.cluster).read_text().strip()

    # -- building ------------------------------------------------------------

    def up(
        self,
        nodes: int,
        *,
        factory: bool = False,
        cluster: str | None = None,
        secret: str | None = None,
        start: bool = True,
        data_net: bool = False,
    ) -> list[Host]:
        """Create the bridge and ``nodes`` hosts, and start their peers.
        ``data_net``: a second bridge and an ``eth1`` per host, the uplink of OVN
        networks (the peers run Open vSwitch and OVN)."""
        if nodes < 0 or nodes > an.MAX_HOSTS:
            raise LabError(f"--nodes must be 0..{an.MAX_HOSTS}")
        if self.exists():
            raise LabStateError(
                f"lab {self.name!r} is already up; run `quantix lab down --name {self.name}` first"
            )
        self._tune_limits(nodes)
        precompile()
        with machine_lock():
            used = system.host_ipv4_addresses() + self._other_labs_addresses()
            block = an.pick_block(used)
            st = LabState(
                name=self.name,
                dir=str(self.dir),
                subnet=str(block),
                bridge=an.bridge_name(self.name),
                bridge_address=an.bridge_address(block),
                cluster=self._cluster,
                peer_cmd=self._peer_cmd or list(DEFAULT_PEER_CMD),
                api_port=self._api_port,
                firewall=self._firewall,
            )
            if data_net:
                st.data_bridge = an.data_bridge_name(self.name)
                st.data_subnet = str(an.data_block(block))
            st.save()  # before the bridge exists: down can always find it
            self._make_bridge(st)
            if st.data_bridge:
                self._make_data_bridge(st.data_bridge)
        try:
            return [
                self.add_host(factory=factory, cluster=cluster, secret=secret, start=start)
                for _ in range(nodes)
            ]
        except BaseException:
            self.down()
            raise

    def add_host(
        self,
        *,
        factory: bool = False,
        cluster: str | None = None,
        secret: str | None = None,
        start: bool = True,
    ) -> Host:
        """One more host. ``factory``: no cluster in node.yaml. ``cluster``/``secret``:
        another cluster name or a given (e.g. wrong) secret; by default the lab's."""
        st = self.state()
        index = max((h.index for h in st.hosts.values()), default=0) + 1
        block = ipaddress.IPv4Network(st.subnet)
        hs = HostState(
            name=an.host_name(index),
            index=index,
            netns=an.netns_name(self.name, index),
            veth=an.veth_name(self.name, index),
            address=an.host_address(block, index),
            dir=str(self.dir / an.host_name(index)),
            cluster=None if factory else (cluster or st.cluster),
            secret_file=None,
        )
        if hs.cluster is not None and secret is None:
            hs.secret_file = str(self._ensure_secret(hs.cluster))
            secret = Path(hs.secret_file).read_text().strip()
        st.hosts[hs.name] = hs
        st.save()  # before the namespace and veth exist
        hs.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.shared_dir.mkdir(mode=0o700, exist_ok=True)
        write_private(
            hs.path / "node.yaml",
            render_node_yaml(
                hs.path, hs.name, hs.address, MGMT_INTERFACE, st.api_port, hs.cluster, secret,
                DATA_INTERFACE if st.data_bridge else None,
                firewall=st.firewall,
                shared_root=self.shared_dir,
            ),
        )  # fmt: skip
        prefix = ipaddress.IPv4Network(st.subnet).prefixlen
        ns = hs.netns
        system.run("ip", "netns", "add", ns)
        system.run("ip", "-n", ns, "link", "set", "lo", "up")
        system.run(
            "ip",
            "link",
            "add",
            hs.veth,
            "type",
            "veth",
            "peer",
            "name",
            MGMT_INTERFACE,
            "netns",
            ns,
        )
        system.run("ip", "link", "set", hs.veth, "master", st.bridge, "up")
        system.run("ip", "-n", ns, "addr", "add", f"{hs.address}/{prefix}", "dev", MGMT_INTERFACE)
        system.run("ip", "-n", ns, "link", "set", MGMT_INTERFACE, "up")
        if st.data_bridge and st.data_subnet:
            self._add_data_link(st, hs)
        if start:
            self._start(st, hs)
        return self._view(st, hs)

    # -- processes -----------------------------------------------------------

    def start(self, name: str) -> Host:
        """Start the host's peer again (it must not be running)."""
        st = self.state()
        hs = self._host_state(st, name)
        if hs.pid is not None and system.pid_alive(hs.pid):
            raise LabError(f"{name}'s peer is already running (pid {hs.pid})")
        self._start(st, hs)
        return self._view(st, hs)

    def stop(self, name: str, timeout: float = 15.0) -> bool:
        """SIGTERM the host's peer (its process group) and wait; True if it exited in time."""
        st = self.state()
        hs = self._host_state(st, name)
        if hs.pid is None:
            return True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(hs.pid, signal.SIGTERM)
        return poll_until(lambda: not self._alive(hs.pid), timeout)

    def kill(self, name: str, timeout: float = 10.0) -> list[int]:
        """kill -9 every process in the host's namespace (the peer, qemu, exec'd shells)."""
        st = self.state()
        hs = self._host_state(st, name)
        killed = self._kill_netns(hs.netns, timeout)
        if hs.pid is not None:
            self._alive(hs.pid)  # reap our child, if it is one
        return killed

    def exec(self, name: str, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command inside the host's namespace and wait for it."""
        hs = self._host_state(self.state(), name)
        kw.setdefault("check", False)
        return subprocess.run(["ip", "netns", "exec", hs.netns, *argv], **kw)

    def popen(self, name: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start a command inside the host's namespace (``kill``/``down`` end it too)."""
        hs = self._host_state(self.state(), name)
        return subprocess.Popen(["ip", "netns", "exec", hs.netns, *argv], **kw)

    # -- observing ------------------------------------------------------------

    def status(self, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Each host: namespace present, peer pid alive, processes, API health."""
        st = self.state()
        namespaces = set(system.netns_list())

        def one(hs: HostState) -> dict[str, Any]:
            view = self._view(st, hs)
            role = None
            try:
                body = get_json(view.url + "api/v1/health", timeout=timeout)
                health = str(body.get("status", "ok")) if isinstance(body, dict) else "ok"
                role = body.get("raft_role") if isinstance(body, dict) else None
            except ApiError as e:
                health = f"http {e.status}" if e.status else "unreachable"
            return {
                "host": hs.name,
                "netns": hs.netns,
                "netns_present": hs.netns in namespaces,
                "address": hs.address,
                "url": view.url,
                "cluster": hs.cluster,
                "pid": hs.pid,
                "running": hs.pid is not None and self._alive(hs.pid),
                "processes": len(system.netns_pids(hs.netns)) if hs.netns in namespaces else 0,
                "health": health,
                "role": role,
            }

        hosts = sorted(st.hosts.values(), key=lambda h: h.index)
        with ThreadPoolExecutor(max_workers=min(16, max(1, len(hosts)))) as pool:
            return list(pool.map(one, hosts))

    def admin_password(self, timeout: float = 0.0) -> str | None:
        """The initial admin password a peer wrote (lowest host first); waits ``timeout`` s."""
        found: list[str] = []

        def look() -> bool:
            for h in self.hosts():
                with contextlib.suppress(OSError):
                    text = (h.data_dir / PASSWORD_FILE).read_text().strip()
                    if text:
                        found.append(text)
                        return True
            return False

        poll_until(look, timeout, interval=0.5)
        return found[0] if found else None

    def mdns_packets(self, seconds: float) -> int:
        """mDNS packets (UDP 5353) the lab's hosts put on the bridge during ``seconds``."""
        return count_udp_packets(self.state().bridge, seconds)

    # -- tearing down ------------------------------------------------------------

    def down(self, timeout: float = 20.0) -> None:
        """Remove every namespace, link, bridge, process and directory of this lab.

        Idempotent; works from the state file and, for a lab whose state file is
        gone, from the resource names alone."""
        st = LabState.load(self.dir)
        ns_re, veth_re = an.netns_re(self.name), an.veth_re(self.name)
        namespaces = {n for n in system.netns_list() if ns_re.match(n)}
        links = set(system.link_names())
        veths = {v for v in links if veth_re.match(v) or an.data_veth_re(self.name).match(v)}
        bridge = an.bridge_name(self.name)
        data_bridge = an.data_bridge_name(self.name)
        if st is not None:
            namespaces |= {h.netns for h in st.hosts.values()}
            veths |= {h.veth for h in st.hosts.values()}
        for ns in sorted(namespaces):
            self._kill_netns(ns, timeout)
        for proc in self._procs.values():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                proc.wait(timeout=1)
        for veth in sorted(veths & links):
            system.run("ip", "link", "del", veth, check=False)
        for ns in sorted(namespaces):
            system.run("ip", "netns", "del", ns, check=False)
        for b in (bridge, data_bridge):
            if b in links:
                system.run("ip", "link", "del", b, check=False)

        def gone() -> bool:
            now_links = set(system.link_names())
            now_ns = set(system.netns_list())
            return not (now_links & (veths | {bridge, data_bridge})) and not (now_ns & namespaces)

        if not poll_until(gone, timeout, interval=0.1):
            raise LabError(f"lab {self.name!r}: some links or namespaces did not go away")
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.dir.exists():
            raise LabError(f"lab {self.name!r}: cannot remove {self.dir}")

    @staticmethod
    def down_all(root: Path = DEFAULT_ROOT) -> list[str]:
        """Take down every lab on this machine: state files under ``root`` and any
        ``qx-*`` namespace / ``qxbr-*`` bridge left over. Returns the lab names."""
        names: set[str] = set()
        if root.is_dir():
            names |= {p.parent.name for p in root.glob("*/lab.json")}
        for ns in system.netns_list():
            if ns.startswith(an.NS_PREFIX) and "-h" in ns:
                names.add(ns[len(an.NS_PREFIX) : ns.rindex("-h")])
        names |= {link[5:] for link in system.link_names() if link.startswith("qxbr-")}
        for name in sorted(n for n in names if an.NAME_RE.match(n)):
            Lab(name, root).down()
        return sorted(names)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- internals -------------------------------------------------------------

    def _view(self, st: LabState, hs: HostState) -> Host:
        return Host(
            hs.name, hs.index, hs.netns, hs.address, hs.path, st.api_port, hs.cluster, hs.pid
        )

    def _host_state(self, st: LabState, name: str) -> HostState:
        hs = st.hosts.get(name)
        if hs is None:
            raise UnknownHost(
                f"lab {self.name!r} has no host {name!r} (hosts: {', '.join(st.hosts)})"
            )
        return hs

    def _make_bridge(self, st: LabState) -> None:
        b = st.bridge
        system.run("ip", "link", "add", b, "type", "bridge", "stp_state", "0", "forward_delay", "0",
                   "mcast_snooping", "0")  # fmt: skip
        prefix = ipaddress.IPv4Network(st.subnet).prefixlen
        system.run("ip", "addr", "add", f"{st.bridge_address}/{prefix}", "dev", b)
        system.run("ip", "link", "set", b, "up")

    def _make_data_bridge(self, bridge: str) -> None:
        system.run("ip", "link", "add", bridge, "type", "bridge", "stp_state", "0",
                   "forward_delay", "0")  # fmt: skip
        system.run("ip", "link", "set", bridge, "up")

    def _add_data_link(self, st: LabState, hs: HostState) -> None:
        """eth1 on the data bridge, with the host's data address (the peer moves it
        onto OVS's br-phy). Checksum offload off on both ends: OVS's userspace
        datapath forwards what the kernel left for a NIC to finish, and TCP stalls."""
        assert st.data_bridge and st.data_subnet
        ns, veth = hs.netns, an.data_veth_name(self.name, hs.index)
        block = ipaddress.IPv4Network(st.data_subnet)
        addr = an.host_address(block, hs.index)
        system.run("ip", "link", "add", veth, "type", "veth", "peer", "name", DATA_INTERFACE,
                   "netns", ns)  # fmt: skip
        system.run("ip", "link", "set", veth, "master", st.data_bridge, "up")
        system.run("ethtool", "-K", veth, "tx", "off")
        system.run("ip", "netns", "exec", ns, "ethtool", "-K", DATA_INTERFACE, "tx", "off")
        cidr = f"{addr}/{block.prefixlen}"
        system.run("ip", "-n", ns, "addr", "add", cidr, "dev", DATA_INTERFACE)
        system.run("ip", "-n", ns, "link", "set", DATA_INTERFACE, "up")

    def _start(self, st: LabState, hs: HostState) -> None:
        argv = [self._expand(a, st, hs) for a in st.peer_cmd]
        with open(hs.path / "peer.log", "ab") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", hs.netns, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=hs.dir,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _checkout_path()},
                start_new_session=True,  # its own process group: stop() signals the group
            )
        self._procs[proc.pid] = proc
        hs.pid = proc.pid
        st.save()

    def _alive(self, pid: int | None) -> bool:
        if pid is None:
            return False
        proc = self._procs.get(pid)
        if proc is not None and proc.poll() is not None:
            return False  # reaped: our child has exited
        return system.pid_alive(pid)

    def _kill_netns(self, ns: str, timeout: float) -> list[int]:
        killed: list[int] = []

        def none_left() -> bool:
            pids = [p for p in system.netns_pids(ns) if system.pid_alive(p)]
            for pid in pids:
                system.signal_pid(pid, signal.SIGKILL)
                killed.append(pid)
            for proc in self._procs.values():
                proc.poll()
            return not pids

        if not poll_until(none_left, timeout, interval=0.05):
            raise LabError(f"processes in {ns} survived kill -9")
        return sorted(set(killed))

    def _expand(self, arg: str, st: LabState, hs: HostState) -> str:
        bindir = Path(sys.executable).parent
        return arg.format(
            config=hs.path / "node.yaml", dir=hs.dir, data_dir=hs.path / "data",
            address=hs.address, host=hs.name, interface=MGMT_INTERFACE, api_port=st.api_port,
            python=sys.executable, quantix=bindir / "quantix", cluster=hs.cluster or "",
        )  # fmt: skip

    def _secret_path(self, cluster: str) -> Path:
        return self.dir / "secrets" / f"{cluster}.secret"

    def _ensure_secret(self, cluster: str) -> Path:
        path = self._secret_path(cluster)
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(path, secrets.token_urlsafe(32) + "\n")
        return path

    def _other_labs_addresses(self) -> list[str]:
        out: list[str] = []
        if self.root.is_dir():
            for p in self.root.glob("*/lab.json"):
                with contextlib.suppress(LabError):
                    other = LabState.load(p.parent)
                    if other is not None:
                        out.append(other.bridge_address)
        return out

    @staticmethod
    def _tune_limits(nodes: int) -> None:
        # Each peer's embedded libvirt and its Python watchers use inotify
        # instances; the default (128 per user) runs out near 20 peers.
        system.raise_sysctl("fs/inotify/max_user_instances", max(1024, nodes * 32))
        system.raise_sysctl("fs/inotify/max_user_watches", 262144)


def _checkout_path() -> str:
    """This checkout first on the peers' path: an editable install made before a
    top-level package was added (agent/, testkit/) does not map it, and the lab
    runs this checkout's code either way."""
    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return f"{root}:{rest}" if rest else root


# The product's packages, compiled once before peers start (see ``precompile``).
PRODUCT_PACKAGES = ("peer", "raft", "discovery", "hypervisor", "agent", "console", "chaos")


def precompile() -> None:
    """Write the product's bytecode before N peers start at once.

    With PYTHONDONTWRITEBYTECODE (common in shells and CI) no peer ever caches
    its compiled modules: each of 32 peers started together would compile every
    module of this checkout itself, a large share of its start-up CPU on this
    2-core machine. A real host runs packaged, compiled code; this gives the
    lab the same. Cheap when nothing changed."""
    root = Path(__file__).resolve().parents[2]
    dirs = [str(root / name) for name in PRODUCT_PACKAGES if (root / name).is_dir()]
    if dirs:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", *dirs],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
