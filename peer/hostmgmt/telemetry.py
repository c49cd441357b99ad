"""Host figures for the console: CPU, memory, uptime, hardware. Pure parsers,
plus ``read_*`` helpers that only read the files and hand the text over."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def parse_cpu_times(stat_text: str) -> tuple[int, int]:
    """(busy, total) jiffies from the first ``cpu`` line of /proc/stat."""
    for line in stat_text.splitlines():
        if line.startswith("cpu "):
            vals = [int(v) for v in line.split()[1:]]
            idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
            total = sum(vals[:8])
            return total - idle, total
    return 0, 0


def cpu_percent(prev: tuple[int, int] | None, cur: tuple[int, int]) -> float | None:
    if prev is None or cur[1] <= prev[1]:
        return None
    return round(100.0 * (cur[0] - prev[0]) / (cur[1] - prev[1]), 1)


def parse_meminfo(text: str) -> dict[str, int]:
    """``{total_mib, available_mib, used_mib}`` from /proc/meminfo."""
    kib: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[name] = int(parts[0])
    total = kib.get("MemTotal", 0) // 1024
    avail = kib.get("MemAvailable", kib.get("MemFree", 0)) // 1024
    return {"total_mib": total, "available_mib": avail, "used_mib": max(0, total - avail)}


def parse_uptime(text: str) -> float:
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return 0.0


def parse_cpuinfo(text: str) -> dict[str, Any]:
    models = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")
    ]
    return {"model": models[0] if models else "unknown", "threads": len(models)}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def read_cpu_times() -> tuple[int, int]:
    return parse_cpu_times(_read("/proc/stat"))


def read_memory() -> dict[str, int]:
    return parse_meminfo(_read("/proc/meminfo"))


def read_uptime() -> float:
    return parse_uptime(_read("/proc/uptime"))


def read_loadavg() -> list[float]:
    try:
        return [float(v) for v in _read("/proc/loadavg").split()[:3]]
    except ValueError:
        return []


def read_hardware() -> dict[str, Any]:
    """CPU, memory, disks, network interfaces (this namespace's), KVM."""
    cpu = parse_cpuinfo(_read("/proc/cpuinfo"))
    cpu["cores"] = os.cpu_count() or 0
    disks = []
    for blk in sorted(Path("/sys/block").glob("*")):
        if blk.name.startswith(("loop", "ram", "zram")):
            continue
        sectors = _read(str(blk / "size")).strip()
        if sectors.isdigit():
            disks.append({"name": blk.name, "size_gib": round(int(sectors) * 512 / 2**30, 1)})
    nics = []
    for nic in sorted(Path("/sys/class/net").glob("*")):
        if nic.name == "lo":
            continue
        nics.append(
            {
                "name": nic.name,
                "mac": _read(str(nic / "address")).strip(),
                "state": _read(str(nic / "operstate")).strip(),
            }
        )
    return {
        "cpu": cpu,
        "memory": read_memory(),
        "disks": disks,
        "nics": nics,
        "kvm": os.path.exists("/dev/kvm"),
        "kernel": _read("/proc/sys/kernel/osrelease").strip(),
    }
