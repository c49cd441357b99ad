"""node.yaml: the host's own settings. Every setting has a sensible default.

Parsing is pure (``parse_config(text)``); ``load_config(path)`` only reads the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path("/etc/quantix/node.yaml")
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class ConfigError(Exception):
    """node.yaml is unreadable or a setting is invalid; the message names the setting."""


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path = Path("/var/lib/quantix")
    hostname: str | None = None  # None: the system's hostname
    # Management address and interface: None means "the first non-loopback IPv4".
    mgmt_address: str | None = None
    mgmt_interface: str | None = None
    api_port: int = 8443
    raft_port: int = 8444
    # Cluster membership: both None means factory state (announce as available).
    cluster_name: str | None = None
    cluster_secret: str | None = field(default=None, repr=False)
    libvirt_uri: str = "qemu:///system"
    # HA: a peer that cannot renew its lease for this long fences itself.
    fence_after: float = 6.0
    heartbeat: float = 1.0
    # Seconds unclustered hosts wait to see each other before one bootstraps.
    settle_window: float = 2.0
    # Hosts to try joining before mDNS answers (ip:api_port); optional.
    seeds: tuple[str, ...] = ()
    # Local unix socket for the console (network-independent).
    local_socket: Path | None = None
    log_level: str = "info"
    # Arm /dev/watchdog (Linux softdog or hardware) so that a hung daemon fences too.
    # Off by default: on a machine that is not a dedicated host it would reset it.
    watchdog: bool = False
    # Keep the Raft port to the members and each incoming live migration to its
    # source host with nftables (peer/firewall.py). Off by default: on a machine
    # that is not a dedicated host the firewall is someone else's.
    firewall: bool = False
    # Ports an incoming live migration listens on (a range the firewall guards).
    migration_ports: tuple[int, int] = (49152, 49215)
    labels: dict[str, str] = field(default_factory=dict)
    # The uplink of OVN networks (overlay tunnels, VLANs): set, and this host runs
    # Open vSwitch and ovn-controller; None, and only bridge networks work here.
    data_interface: str | None = None
    # Where pools may live (docs/security.md): root name -> directory. "local"
    # (VM data under the data dir) is always there unless named otherwise.
    pool_roots: dict[str, Path] = field(default_factory=dict)
    # Address ranges an image import by URL may reach although they are private
    # to the host or the cluster (loopback, link-local, the members' addresses).
    url_import_allow: tuple[str, ...] = ()

    @property
    def roots(self) -> dict[str, Path]:
        """The allowed pool roots of this host, the default one included."""
        return {"local": self.data_dir / "data", **self.pool_roots}

    @property
    def is_factory(self) -> bool:
        return self.cluster_name is None

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "cluster.secret"

    def with_cluster(self, name: str, secret: str) -> NodeConfig:
        return replace(self, cluster_name=name, cluster_secret=secret)


_INT_FIELDS = {"api_port", "raft_port"}
_FLOAT_FIELDS = {"fence_after", "heartbeat", "settle_window"}
_STR_FIELDS = {
    "hostname",
    "mgmt_address",
    "mgmt_interface",
    "libvirt_uri",
    "log_level",
    "data_interface",
}


def parse_config(text: str) -> NodeConfig:
    """Parse node.yaml text into a NodeConfig, or raise ConfigError."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"node.yaml is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError("node.yaml must be a mapping of settings")
    kw: dict[str, Any] = {}
    cluster = raw.pop("cluster", None) or {}
    if not isinstance(cluster, dict):
        raise ConfigError("'cluster' must be a mapping with 'name' and 'secret'")
    for key, val in raw.items():
        if key in ("data_dir", "local_socket"):
            kw[key] = Path(str(val))
        elif key in _INT_FIELDS:
            if not isinstance(val, int) or not 1 <= val <= 65535:
                raise ConfigError(f"{key} must be a port number, got {val!r}")
            kw[key] = val
        elif key in _FLOAT_FIELDS:
            if not isinstance(val, (int, float)) or val <= 0:
                raise ConfigError(f"{key} must be a positive number, got {val!r}")
            kw[key] = float(val)
        elif key in _STR_FIELDS:
            kw[key] = None if val is None else str(val)
        elif key in ("watchdog", "firewall"):
            if not isinstance(val, bool):
                raise ConfigError(f"{key} must be true or false, got {val!r}")
            kw[key] = val
        elif key == "migration_ports":
            kw[key] = _port_range(val)
        elif key == "seeds":
            if not isinstance(val, list):
                raise ConfigError("seeds must be a list of host:port")
            kw[key] = tuple(str(s) for s in val)
        elif key == "pool_roots":
            kw[key] = _pool_roots(val)
        elif key == "url_import_allow":
            if not isinstance(val, list):
                raise ConfigError("url_import_allow must be a list of address ranges (CIDR)")
            for net in val:
                try:
                    ipaddress.ip_network(str(net), strict=False)
                except ValueError:
                    raise ConfigError(f"url_import_allow: {net!r} is not a CIDR range") from None
            kw[key] = tuple(str(n) for n in val)
        elif key == "labels":
            if not isinstance(val, dict):
                raise ConfigError("labels must be a mapping")
            kw[key] = {str(k): str(v) for k, v in val.items()}
        else:
            raise ConfigError(f"unknown setting {key!r} in node.yaml")
    if kw.get("mgmt_address"):
        try:
            ipaddress.IPv4Address(kw["mgmt_address"])
        except ValueError:
            raise ConfigError(
                f"mgmt_address must be an IPv4 address: {kw['mgmt_address']!r}"
            ) from None
    name, secret = cluster.get("name"), cluster.get("secret")
    if name is not None:
        validate_cluster_name(str(name))
        kw["cluster_name"] = str(name)
    if secret is not None:
        validate_secret(str(secret))
        kw["cluster_secret"] = str(secret)
    if secret is not None and name is None:
        # A name alone is fine: the host that founds the cluster generates its
        # join code (peer/identity.py, first_secret).
        raise ConfigError("cluster 'secret' needs a cluster 'name'")
    return NodeConfig(**kw)


def _port_range(val: Any) -> tuple[int, int]:
    """``"49152-49215"`` -> (49152, 49215)."""
    lo, _, hi = str(val).partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise ConfigError(f"migration_ports must be LOW-HIGH, got {val!r}") from None
    if not 1024 <= a <= b <= 65535:
        raise ConfigError(f"migration_ports must lie within 1024-65535, got {val!r}")
    return a, b


def _pool_roots(val: Any) -> dict[str, Path]:
    if not isinstance(val, dict):
        raise ConfigError("pool_roots must be a mapping of root name to directory")
    out = {}
    for name, path in val.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ConfigError(f"pool_roots: {name!r} is not a valid root name ([a-z0-9-])")
        p = Path(str(path))
        if not p.is_absolute() or ".." in p.parts or p == Path("/"):
            raise ConfigError(f"pool_roots: {name} must be an absolute directory, not {path!r}")
        out[name] = p
    return out


def validate_cluster_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise ConfigError(
            f"cluster name {name!r} must be 1-63 lowercase letters, digits or '-', "
            "not starting or ending with '-'"
        )


def validate_secret(secret: str) -> None:
    if len(secret) < 12:
        raise ConfigError("the cluster secret must be at least 12 characters")


def load_config(path: Path = DEFAULT_PATH) -> NodeConfig:
    """Read node.yaml (a missing file means every default).

    It may hold the cluster secret (the Raft key), so a file that others can
    read, or that someone other than root (or the daemon's own user) can write,
    is refused rather than trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return NodeConfig()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    with os.fdopen(fd) as f:
        check_private(path, os.fstat(fd))
        try:
            text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read {path}: {e}") from None
    return parse_config(text)


def check_private(path: Path, st: os.stat_result) -> None:
    """node.yaml must be readable by its owner only, and owned by root or us."""
    if st.st_uid not in (0, os.geteuid()):
        raise ConfigError(f"{path} must be owned by root (it is owned by uid {st.st_uid})")
    if st.st_mode & 0o077:
        raise ConfigError(
            f"{path} is readable or writable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"it may hold the cluster secret: chmod 600 {path}"
        )
