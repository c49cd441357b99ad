"""node.yaml for a lab host. Pure: returns text (values JSON-quoted, which is valid YAML)."""

from __future__ import annotations

import json
from pathlib import Path


def render_node_yaml(
    host_dir: Path,
    hostname: str,
    address: str,
    interface: str,
    api_port: int,
    cluster: str | None,
    secret: str | None,
    data_interface: str | None = None,
    firewall: bool = False,
    shared_root: Path | None = None,
) -> str:
    """The host's settings: its data dir, address, embedded libvirt, and cluster (if any).
    ``shared_root``: a directory every lab host sees, allowed as the pool root
    ``shared`` (the lab's stand-in for an NFS mount)."""
    q = json.dumps
    lines = [
        "# Written by the Quantix lab; holds the cluster secret (mode 0600).",
        f"data_dir: {q(str(host_dir / 'data'))}",
        f"hostname: {q(hostname)}",
        f"mgmt_address: {q(address)}",
        f"mgmt_interface: {q(interface)}",
        f"api_port: {api_port}",
        f"libvirt_uri: {q('qemu:///embed?root=' + str(host_dir / 'libvirt'))}",
        f"local_socket: {q(str(host_dir / 'peer.sock'))}",
    ]
    if data_interface is not None:
        lines.append(f"data_interface: {q(data_interface)}")
    if firewall:
        lines.append("firewall: true")
    if shared_root is not None:
        lines += ["pool_roots:", f"  shared: {q(str(shared_root))}"]
    if cluster is not None and secret is not None:
        lines += ["cluster:", f"  name: {q(cluster)}", f"  secret: {q(secret)}"]
    return "\n".join(lines) + "\n"
