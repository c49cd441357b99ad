"""Open vSwitch and OVN on this host: where their files live, how each daemon is
started (the peer supervises them), and the local switch setup.

Every host runs three daemons: ``ovsdb-server`` for its switch database,
``ovs-vswitchd`` with the userspace datapath (no OVS kernel module is needed)
and ``ovn-controller``. The host the leader picks as the OVN central also runs
the northbound and southbound ``ovsdb-server`` and ``ovn-northd``. Everything of
one host lives under one directory, with ``OVS_RUNDIR``/``OVN_RUNDIR`` pointed
there, so several hosts (lab namespaces) share one machine.

The local switch is set up with ``ovs-vsctl`` against this host's database:
``br-phy`` (userspace datapath) holds the uplink and its address (OVS routes
Geneve only from an address on one of its bridges), and ``ovn-controller``
creates ``br-int`` with the datapath type it is told.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hypervisor.errors import HypervisorError

VSWITCH_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")
NB_PORT = 6641
SB_PORT = 6642
INTEGRATION_BRIDGE = "br-int"
PHYSICAL_BRIDGE = "br-phy"
PHYSNET = "data"  # the one physical network name VLAN networks leave through
VSCTL_TIMEOUT = 10


class OvnHostError(HypervisorError):
    """A daemon could not be prepared or the local switch refused a change."""

    status = 503
    code = "ovn_unavailable"


@dataclass(frozen=True)
class OvnPaths:
    """One host's OVS/OVN files."""

    root: Path

    @property
    def rundir(self) -> Path:
        return self.root / "run"

    @property
    def logdir(self) -> Path:
        return self.root / "log"

    @property
    def conf_db(self) -> Path:
        return self.root / "conf.db"

    @property
    def db_sock(self) -> Path:
        return self.rundir / "db.sock"

    @property
    def central(self) -> Path:
        return self.root / "central"

    @property
    def nb_db(self) -> Path:
        return self.central / "ovnnb.db"

    @property
    def sb_db(self) -> Path:
        return self.central / "ovnsb.db"

    @property
    def nb_sock(self) -> Path:
        return self.rundir / "ovnnb_db.sock"

    @property
    def sb_sock(self) -> Path:
        return self.rundir / "ovnsb_db.sock"

    def env(self) -> dict[str, str]:
        return {
            "OVS_RUNDIR": str(self.rundir),
            "OVN_RUNDIR": str(self.rundir),
            "OVS_LOGDIR": str(self.logdir),
            "OVN_LOGDIR": str(self.logdir),
            "OVS_DBDIR": str(self.root),
            "OVN_DBDIR": str(self.central),
        }


@dataclass(frozen=True)
class Daemon:
    """How to start one daemon in the foreground (the peer restarts it when it exits)."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    pidfile: Path | None = None


def _common(p: OvnPaths, name: str) -> tuple[str, ...]:
    return (
        f"--pidfile={p.rundir / name}.pid",
        f"--log-file={p.logdir / name}.log",
        "-vconsole:off",
        "--no-chdir",
    )


def local_daemons(p: OvnPaths) -> list[Daemon]:
    """The three daemons every host runs, in start order."""
    env = p.env()
    return [
        Daemon(
            "ovsdb-server",
            (
                "ovsdb-server",
                str(p.conf_db),
                f"--remote=punix:{p.db_sock}",
                f"--unixctl={p.rundir / 'ovsdb-server.ctl'}",
                *_common(p, "ovsdb-server"),
            ),
            env,
            p.rundir / "ovsdb-server.pid",
        ),
        Daemon(
            "ovs-vswitchd",
            (
                "ovs-vswitchd",
                f"unix:{p.db_sock}",
                f"--unixctl={p.rundir / 'ovs-vswitchd.ctl'}",
                *_common(p, "ovs-vswitchd"),
            ),
            env,
            p.rundir / "ovs-vswitchd.pid",
        ),
        # ovn-controller refuses --unixctl: OVN_RUNDIR places its control socket.
        Daemon(
            "ovn-controller",
            ("ovn-controller", f"unix:{p.db_sock}", *_common(p, "ovn-controller")),
            env,
            p.rundir / "ovn-controller.pid",
        ),
    ]


def central_daemons(p: OvnPaths, listen: str) -> list[Daemon]:
    """The northbound and southbound databases and ovn-northd, for the central host;
    the databases listen on ``listen`` (this host's address) for the other hosts."""
    env = p.env()

    def db(name: str, path: Path, sock: Path, port: int) -> Daemon:
        return Daemon(
            name,
            (
                "ovsdb-server",
                str(path),
                f"--remote=punix:{sock}",
                f"--remote=ptcp:{port}:{listen}",
                f"--unixctl={p.rundir / name}.ctl",
                *_common(p, name),
            ),
            env,
            p.rundir / f"{name}.pid",
        )

    return [
        db("ovsdb-nb", p.nb_db, p.nb_sock, NB_PORT),
        db("ovsdb-sb", p.sb_db, p.sb_sock, SB_PORT),
        Daemon(
            "ovn-northd",
            (
                "ovn-northd",
                f"--ovnnb-db=unix:{p.nb_sock}",
                f"--ovnsb-db=unix:{p.sb_sock}",
                *_common(p, "ovn-northd"),
            ),
            env,
            p.rundir / "ovn-northd.pid",
        ),
    ]


def _run(argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 30) -> str:
    try:
        res = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=dict(env) if env is not None else None,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise OvnHostError(f"{argv[0]}: {e}") from None
    if res.returncode != 0:
        raise OvnHostError(f"{' '.join(argv[:3])}: {res.stderr.strip() or res.returncode}")
    return res.stdout


def prepare_dirs(p: OvnPaths) -> None:
    for d in (p.root, p.rundir, p.logdir):
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not p.conf_db.exists():
        _run(["ovsdb-tool", "create", str(p.conf_db), str(VSWITCH_SCHEMA)])


def fresh_central(p: OvnPaths) -> None:
    """Empty northbound and southbound databases: the northbound one is a projection
    of the cluster state and is rebuilt from it; northd and the hosts' controllers
    fill the southbound one again."""
    p.central.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path, schema in ((p.nb_db, NB_SCHEMA), (p.sb_db, SB_SCHEMA)):
        path.unlink(missing_ok=True)
        _run(["ovsdb-tool", "create", str(path), str(schema)])


def vsctl(p: OvnPaths, *args: str) -> str:
    """``ovs-vsctl`` against this host's switch database."""
    return _run(
        ["ovs-vsctl", f"--db=unix:{p.db_sock}", f"--timeout={VSCTL_TIMEOUT}", *args],
        p.env(),
        timeout=VSCTL_TIMEOUT + 5,
    )


def setup_switch(
    p: OvnPaths,
    *,
    system_id: str,
    hostname: str,
    sb_remote: str | None,
    encap_ip: str,
    uplink: str | None,
) -> None:
    """Initialise the switch database, ``br-phy`` with the uplink in it, and what
    ovn-controller reads: who this chassis is, where the southbound database is,
    the tunnel address, the datapath type and the physical network mapping."""
    vsctl(p, "--no-wait", "init")
    vsctl(p, "--may-exist", "add-br", PHYSICAL_BRIDGE, "--", "set", "bridge",
          PHYSICAL_BRIDGE, "datapath_type=netdev")  # fmt: skip
    if uplink:
        vsctl(p, "--may-exist", "add-port", PHYSICAL_BRIDGE, uplink)
    ids = {
        "system-id": system_id,
        "hostname": hostname,
        "ovn-encap-type": "geneve",
        "ovn-encap-ip": encap_ip,
        "ovn-bridge-datapath-type": "netdev",
        "ovn-bridge-mappings": f"{PHYSNET}:{PHYSICAL_BRIDGE}",
        # Without it a chassis that lost the southbound database retries slowly.
        "ovn-remote-probe-interval": "5000",
    }
    if sb_remote:
        ids["ovn-remote"] = sb_remote
    vsctl(p, "set", "open_vswitch", ".", *(f"external_ids:{k}={v}" for k, v in ids.items()))
    if not sb_remote:
        vsctl(p, "--if-exists", "remove", "open_vswitch", ".", "external_ids", "ovn-remote")


def plug_vif(p: OvnPaths, tap: str, iface_id: str, mac: str) -> None:
    """Put a tap into br-int as the OVN logical port ``iface_id``."""
    vsctl(p, "--may-exist", "add-port", INTEGRATION_BRIDGE, tap, "--", "set", "interface", tap,
          f"external_ids:iface-id={iface_id}", f'external_ids:attached-mac="{mac}"',
          "external_ids:iface-status=active")  # fmt: skip


def unplug_vif(p: OvnPaths, tap: str) -> None:
    vsctl(p, "--if-exists", "del-port", INTEGRATION_BRIDGE, tap)


def vif_ports(p: OvnPaths) -> dict[str, str]:
    """tap name -> iface-id of the VIFs on br-int."""
    out = vsctl(p, "--format=csv", "--data=bare", "--no-headings", "--columns=name,external_ids",
                "find", "interface", "external_ids:iface-id!=\"\"")  # fmt: skip
    ports = {}
    for line in out.splitlines():
        name, _, ids = line.partition(",")
        for kv in ids.strip('"').split():
            if kv.startswith("iface-id="):
                ports[name] = kv.removeprefix("iface-id=")
    return ports
