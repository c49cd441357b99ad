"""Formatting for the screens. Pure."""

from __future__ import annotations

from typing import Any


def bar(percent: float | None, width: int = 20) -> str:
    if percent is None:
        return "[" + "?" * width + "]"
    filled = max(0, min(width, round(width * percent / 100.0)))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def mmss(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = max(0, int(seconds + 0.999))
    return f"{s // 60:02d}:{s % 60:02d}"


def uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes = s // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''}, {hours} h {minutes} min"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {int(seconds) % 60} s"


def gib(mib: float | int | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.1f} GiB"


def host_role(peer: dict[str, Any], node: dict[str, Any] | None) -> str:
    """What this host is: factory, joining, leader, voter, replica (and maintenance)."""
    raft = peer.get("raft") or {}
    role = raft.get("role")
    if role == "factory":
        return "factory state (not in a cluster)"
    if role == "joining" or (peer.get("formation") and not peer["formation"].get("done")):
        return "joining the cluster"
    if role == "leader":
        out = "leader"
    elif node is not None and node.get("voter"):
        out = "voter"
    elif role in ("follower", "candidate"):
        out = "voter" if (node or {}).get("voter") else "replica"
    else:
        out = str(role or "unknown")
    if node is not None and node.get("state") == "maintenance":
        out += " (maintenance)"
    return out


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "~"
