"""What the guest reports: parsers take the file's text, readers do the I/O."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import time
from typing import Any

SIOCGIFADDR = 0x8915
# Pseudo and virtual file systems whose usage means nothing to an admin.
SKIP_FS = frozenset(
    [
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "tmpfs",
        "ramfs",
        "rootfs",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "pstore",
        "bpf",
        "mqueue",
        "hugetlbfs",
        "configfs",
        "fusectl",
        "autofs",
        "binfmt_misc",
        "efivarfs",
        "squashfs",
        "overlay",
        "nsfs",
        "rpc_pipefs",
        "fuse.gvfsd-fuse",
    ]
)


def parse_meminfo(text: str) -> dict[str, int]:
    """MiB: total, available, used (total - available)."""
    kib: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[key] = int(parts[0])
    total = kib.get("MemTotal", 0)
    avail = kib.get("MemAvailable", kib.get("MemFree", 0))
    return {
        "total_mib": total // 1024,
        "available_mib": avail // 1024,
        "used_mib": (total - avail) // 1024,
    }


def parse_os_release(text: str) -> dict[str, str]:
    vals: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and key.strip():
            vals[key.strip()] = value.strip().strip("\"'")
    return {
        "id": vals.get("ID", "linux"),
        "name": vals.get("PRETTY_NAME", vals.get("NAME", "Linux")),
        "version": vals.get("VERSION_ID", ""),
    }


def parse_mounts(text: str) -> list[tuple[str, str, str]]:
    """(device, mount point, fs type) of real file systems, each mount point once."""
    seen: set[str] = set()
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] in SKIP_FS:
            continue
        mnt = parts[1].replace("\\040", " ")
        if mnt not in seen:
            seen.add(mnt)
            out.append((parts[0], mnt, parts[2]))
    return out


def parse_if_inet6(text: str) -> list[tuple[str, str]]:
    """(interface, address) of global IPv6 addresses (scope 0x00)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[3] != "00" or parts[5] == "lo":
            continue
        h = parts[0]
        addr = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(h))
        out.append((parts[5], addr))
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def ipv4_addresses() -> list[tuple[str, str]]:
    """(interface, address) of each interface's IPv4 address, loopback left out."""
    out = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            if name == "lo":
                continue
            try:
                res = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address
            out.append((name, socket.inet_ntoa(res[20:24])))
    finally:
        s.close()
    return out


def filesystems() -> list[dict[str, Any]]:
    out = []
    for dev, mnt, fs in parse_mounts(_read("/proc/mounts")):
        try:
            st = os.statvfs(mnt)
        except OSError:
            continue
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        out.append(
            {
                "mount": mnt,
                "device": dev,
                "fs": fs,
                "total_mib": total >> 20,
                "used_mib": (total - st.f_bfree * st.f_frsize) >> 20,
                "free_mib": free >> 20,
            }
        )
    return out


def os_info() -> dict[str, str]:
    text = _read("/etc/os-release") or _read("/usr/lib/os-release")
    info = parse_os_release(text)
    info["kernel"] = os.uname().release
    return info


def uptime_s() -> float:
    first = _read("/proc/uptime").split()
    return float(first[0]) if first else 0.0


def own_rss_kib(status_text: str) -> int:
    """VmRSS of /proc/self/status: what the agent itself costs the guest."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def info() -> dict[str, Any]:
    ifaces: dict[str, list[str]] = {}
    for name, addr in ipv4_addresses() + parse_if_inet6(_read("/proc/net/if_inet6")):
        ifaces.setdefault(name, []).append(addr)
    return {
        "hostname": socket.gethostname(),
        "os": os_info(),
        "uptime_s": round(uptime_s(), 1),
        "time": time.time(),
        "ips": [a for addrs in ifaces.values() for a in addrs],
        "interfaces": [{"name": n, "ips": a} for n, a in sorted(ifaces.items())],
        "memory": parse_meminfo(_read("/proc/meminfo")),
        "filesystems": filesystems(),
        "agent_rss_kib": own_rss_kib(_read("/proc/self/status")),
    }
