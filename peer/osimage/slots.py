"""This host's slots and boot entries (Quantix-OS only): which slot runs, its
version, the entries on the ESP and whether an update was rolled back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peer.osimage import bootentry

RUN = Path("/run/quantix")
ESP = Path("/efi")
VERSION = Path("/usr/lib/quantix/version")


def running_slot() -> str | None:
    try:
        return (RUN / "slot").read_text().strip() or None
    except OSError:
        return None


def entry_files(esp: Path = ESP) -> list[str]:
    try:
        return sorted(p.name for p in (esp / "loader/entries").iterdir())
    except OSError:
        return []


def cmdline_option(name: str, cmdline: str | None = None) -> str:
    text = cmdline if cmdline is not None else Path("/proc/cmdline").read_text()
    for arg in text.split():
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return ""


def status() -> dict[str, Any]:
    """Empty (``os: false``) on a host that is not Quantix-OS (the lab, a laptop)."""
    slot = running_slot()
    if slot is None:
        return {"os": False}
    files = entry_files()
    bad = bootentry.rolled_back(files, slot)
    try:
        version = VERSION.read_text().strip()
    except OSError:
        version = "unknown"
    return {
        "os": True,
        "slot": slot,
        "version": version,
        "entries": [
            {"file": e.filename, "slot": e.slot, "generation": e.generation, "state": e.state}
            for e in bootentry.entries(files)
        ],
        "rolled_back": None if bad is None else {"slot": bad.slot, "generation": bad.generation},
    }
