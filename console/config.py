"""Where the local peer's socket is: ``--socket``, else node.yaml's ``local_socket``,
else ``<data_dir>/peer.sock``. Reads node.yaml itself (the console never imports
the peer)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_CONFIG = Path("/etc/quantix/node.yaml")
DEFAULT_DATA_DIR = Path("/var/lib/quantix")


def socket_path(config: Path = DEFAULT_CONFIG, override: Path | None = None) -> Path:
    if override is not None:
        return override
    try:
        raw = yaml.safe_load(config.read_text()) or {}
    except (OSError, yaml.YAMLError):
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    if raw.get("local_socket"):
        return Path(str(raw["local_socket"]))
    return Path(str(raw.get("data_dir") or DEFAULT_DATA_DIR)) / "peer.sock"
