"""Host telemetry: the psutil adapter (the only ``import psutil`` in hypervisor/).

``host_resources()`` returns the plain dict a node commits as its record's
``resources`` (docs/state.md): CPUs and load, memory, disks, NICs and whether
KVM is usable (the accelerator decision comes from ``hypervisor.accel``).
"""

from __future__ import annotations

import os
from typing import Any

import psutil

from hypervisor.accel import cpu_has_virt, host_facts

_SKIP_FS = {"tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup2", "nsfs"}


def host_resources(
    paths: dict[str, str] | None = None, accel: dict[str, Any] | None = None
) -> dict[str, Any]:
    """CPU, memory, disks (plus the given pool paths) and NICs as plain data."""
    cpuinfo, kvm_dev = host_facts()
    vm = psutil.virtual_memory()
    load1, load5, load15 = os.getloadavg()
    disks = []
    seen = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _SKIP_FS or part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        try:
            u = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue
        disks.append(
            {
                "mount": part.mountpoint,
                "device": part.device,
                "fstype": part.fstype,
                "total_bytes": u.total,
                "free_bytes": u.free,
            }
        )
    pools = {}
    for name, path in (paths or {}).items():
        try:
            u = psutil.disk_usage(path)
            pools[name] = {"path": path, "total_bytes": u.total, "free_bytes": u.free}
        except OSError:
            pools[name] = {"path": path, "total_bytes": 0, "free_bytes": 0}
    nics = []
    stats = psutil.net_if_stats()
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        st = stats.get(name)
        nics.append(
            {
                "name": name,
                "up": bool(st and st.isup),
                "speed_mbps": st.speed if st else 0,
                "mtu": st.mtu if st else 0,
                "ipv4": [a.address for a in addrs if a.family.name == "AF_INET"],
                "mac": next((a.address for a in addrs if a.family.name == "AF_PACKET"), None),
            }
        )
    res: dict[str, Any] = {
        "cpus": psutil.cpu_count(logical=True) or 1,
        "cpu_percent": psutil.cpu_percent(interval=None),
        "load": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "memory_mib": vm.total // 2**20,
        "memory_available_mib": vm.available // 2**20,
        "disks": disks,
        "pools": pools,
        "nics": nics,
        "kvm": bool(accel["kvm"]) if accel else (kvm_dev and cpu_has_virt(cpuinfo)),
        "kvm_device": kvm_dev,
    }
    if accel:
        res["accel"] = accel
    return res


def process_usage(pid: int | None = None) -> dict[str, float]:
    """This (or another) process's CPU seconds and RSS, for benchmarks."""
    p = psutil.Process(pid)
    t = p.cpu_times()
    return {"cpu_s": t.user + t.system, "rss_mb": p.memory_info().rss / 2**20}
