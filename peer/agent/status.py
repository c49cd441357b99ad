"""``vm_status.agent``: what the agent said, reduced to what changes rarely.

Pure: the session's facts in, a plain dict out, and the rule for when a new
one is worth a commit. Uptime is kept as ``booted_at`` (a fixed instant) and
usage figures are committed only when they moved noticeably or have been stale
for USAGE_REFRESH_S, so an idle guest costs no commits at all.
"""

from __future__ import annotations

from typing import Any

USAGE_REFRESH_S = 300.0
# Identity: any change is committed at once.
IDENTITY = (
    "connected",
    "version",
    "protocol",
    "capabilities",
    "os",
    "hostname",
    "ips",
    "interfaces",
    "reason",
    "frozen",
)


def disconnected(socket: str | None = None, reason: str | None = None) -> dict[str, Any]:
    return {"socket": socket, "connected": False, "ips": [], "reason": reason}


def from_session(
    socket: str | None,
    hello: dict[str, Any] | None,
    info: dict[str, Any] | None,
    reason: str | None,
) -> dict[str, Any]:
    """The record for a session that answered ``hello`` (and maybe ``info``)."""
    if hello is None:
        return disconnected(socket, reason)
    info = info or {}
    ips = [str(ip) for ip in info.get("ips") or [] if isinstance(ip, str)][:64]
    out: dict[str, Any] = {
        "socket": socket,
        "connected": True,
        "reason": None,
        "version": str(hello.get("agent_version") or "")[:32],
        "protocol": hello.get("protocol"),
        "capabilities": sorted(str(c)[:32] for c in hello.get("capabilities") or [])[:64],
        "os": _os(info.get("os") or hello.get("os")),
        "hostname": str(info.get("hostname") or hello.get("hostname") or "")[:253],
        "ips": ips,
        "interfaces": _interfaces(info.get("interfaces")),
        "frozen": bool(info.get("frozen", False)),
    }
    if info:
        uptime = _num(info.get("uptime_s"))
        now = _num(info.get("time"))
        # Rounded: the guest's clock and our reading jitter; a reboot moves it by far more.
        out["booted_at"] = round(now - uptime, -1) if now and uptime is not None else None
        out["memory"] = {
            k: int(_num(v) or 0)
            for k, v in (info.get("memory") or {}).items()
            if k in ("total_mib", "used_mib", "available_mib")
        }
        out["filesystems"] = [
            {
                "mount": str(f.get("mount"))[:256],
                "fs": str(f.get("fs"))[:32],
                "total_mib": int(_num(f.get("total_mib")) or 0),
                "used_mib": int(_num(f.get("used_mib")) or 0),
            }
            for f in (info.get("filesystems") or [])[:32]
            if isinstance(f, dict)
        ]
    return out


def worth_committing(old: dict[str, Any] | None, new: dict[str, Any], stale_s: float) -> bool:
    """``stale_s``: seconds since the last commit of this VM's agent record."""
    if old is None:
        return True
    if any(old.get(k) != new.get(k) for k in IDENTITY):
        return True
    if abs((old.get("booted_at") or 0) - (new.get("booted_at") or 0)) > 30:
        return True
    moved = _usage_moved(old, new)
    return moved or (stale_s >= USAGE_REFRESH_S and _usage(old) != _usage(new))


def _usage(rec: dict[str, Any]) -> tuple[Any, ...]:
    mem = rec.get("memory") or {}
    fs = tuple((f.get("mount"), f.get("used_mib")) for f in rec.get("filesystems") or [])
    return (mem.get("used_mib"), fs)


def _usage_moved(old: dict[str, Any], new: dict[str, Any]) -> bool:
    om, nm = old.get("memory") or {}, new.get("memory") or {}
    total = max(int(nm.get("total_mib") or 0), 1)
    if abs(int(om.get("used_mib") or 0) - int(nm.get("used_mib") or 0)) >= max(total // 20, 16):
        return True
    ofs = {f["mount"]: f for f in old.get("filesystems") or []}
    for f in new.get("filesystems") or []:
        o = ofs.get(f["mount"])
        if o is None:
            return True
        step = max(int(f.get("total_mib") or 0) // 100, 64)
        if abs(int(o.get("used_mib") or 0) - int(f.get("used_mib") or 0)) >= step:
            return True
    return len(ofs) != len(new.get("filesystems") or [])


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _os(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        return {}
    return {k: str(v.get(k) or "")[:128] for k in ("id", "name", "version", "kernel")}


def _interfaces(v: Any) -> list[dict[str, Any]]:
    out = []
    for i in (v or [])[:32] if isinstance(v, list) else []:
        if isinstance(i, dict):
            ips = [str(a)[:64] for a in i.get("ips") or [] if isinstance(a, str)][:16]
            out.append({"name": str(i.get("name"))[:32], "ips": ips})
    return out
