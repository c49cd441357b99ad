"""Who this host is: its node id (made once), hostname and management address.

Small files under the data dir hold what must survive restarts; secrets are
written 0600 and never logged.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import psutil


def ensure_node_id(data_dir: Path) -> str:
    """The node id, generated on first start and kept in ``data_dir/node_id``."""
    path = data_dir / "node_id"
    try:
        nid = path.read_text().strip()
        if nid:
            return nid
    except FileNotFoundError:
        pass
    nid = uuid.uuid4().hex[:12]
    write_file(path, nid + "\n", 0o644)
    return nid


def system_hostname() -> str:
    return socket.gethostname().split(".")[0] or "quantix"


def pick_address(configured: str | None, interface: str | None) -> str:
    """The management IPv4 address: configured, else the interface's, else the
    first non-loopback IPv4 (127.0.0.1 on a machine with none)."""
    if configured:
        return configured
    addrs = psutil.net_if_addrs()
    names = [interface] if interface else sorted(addrs)
    for name in names:
        for a in addrs.get(name, []):
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return str(a.address)
    return "127.0.0.1"


def write_file(path: Path, text: str, mode: int) -> None:
    """Write atomically with ``mode`` set before any byte lands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Membership:
    """This host's cluster membership as kept on disk.

    ``cluster.json`` (name, cluster id, whether this host has joined) and
    ``cluster.secret`` (0600). node.yaml may name a cluster too; once a host has
    joined, the saved membership is what it restarts into.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "cluster.json"
        self.secret_path = data_dir / "cluster.secret"

    def load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
            return data
        except (FileNotFoundError, ValueError):
            return {}

    def save(self, **fields: Any) -> dict[str, Any]:
        data = self.load()
        data.update(fields)
        write_file(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n", 0o644)
        return data

    def secret(self) -> str | None:
        try:
            return self.secret_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def save_secret(self, secret: str) -> None:
        write_file(self.secret_path, secret + "\n", 0o600)


JOIN_CODE_FILE = "join-code"


def first_secret(membership: Membership, configured: str | None) -> tuple[str, bool]:
    """The cluster secret this host starts with, and whether it was generated now.

    node.yaml's secret if it names one (kept 0600 on first use); else the one
    saved before; else a fresh join code (140 random bits a person can type,
    discovery.handshake.new_join_code), saved 0600 both as the secret and in
    ``join-code`` so that root can read it again. The caller shows a generated
    code once, on the terminal, never in the log.
    """
    from discovery.handshake import new_join_code

    saved = membership.secret()
    if saved:
        return saved, False
    if configured:
        membership.save_secret(configured)
        return configured, False
    code = new_join_code()
    membership.save_secret(code)
    write_file(membership.secret_path.with_name(JOIN_CODE_FILE), code + "\n", 0o600)
    return code, True
