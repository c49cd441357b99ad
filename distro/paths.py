"""Where the builder reads and writes."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DISTRO = REPO / "distro"
CACHE = REPO / ".cache" / "os"
OUT = REPO / "build" / "os"
KEYS = CACHE / "keys"
PRIVATE_KEY = KEYS / "update.key"
PUBLIC_KEY = KEYS / "update.pub"
# The product's Python packages copied into the image (those that exist).
PACKAGES = ("raft", "discovery", "peer", "hypervisor", "agent", "console", "chaos")
