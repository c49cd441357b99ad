"""The system commands the lab runs (``ip``, sysctl files, /proc). Argument lists only."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from chaos.lab.errors import CommandFailed


def run(*argv: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; raise CommandFailed with its stderr if ``check``."""
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CommandFailed(f"{' '.join(argv)}: {e}") from None
    if check and res.returncode != 0:
        raise CommandFailed(f"{' '.join(argv)}: {res.stderr.strip() or res.returncode}")
    return res


def ip_json(*argv: str) -> list[dict[str, Any]]:
    out = run("ip", "-j", *argv).stdout.strip()
    data = json.loads(out) if out else []
    return data if isinstance(data, list) else []


def netns_list() -> list[str]:
    return [str(n["name"]) for n in ip_json("netns", "list")]


def link_names() -> list[str]:
    return [str(link["ifname"]) for link in ip_json("link", "show")]


def host_ipv4_addresses() -> list[str]:
    """Every IPv4 address on this machine's (root namespace's) interfaces."""
    return [
        str(a["local"])
        for link in ip_json("-4", "addr", "show")
        for a in link.get("addr_info", [])
        if "local" in a
    ]


def netns_pids(ns: str) -> list[int]:
    """Every process whose network namespace is ``ns`` (what kill -9 of a host means)."""
    res = run("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in res.stdout.split() if p.isdigit()]


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name (which may hold spaces).
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def raise_sysctl(path: str, minimum: int) -> None:
    """Raise an integer /proc/sys setting to at least ``minimum`` (never lower it)."""
    p = Path("/proc/sys") / path
    try:
        if int(p.read_text().split()[0]) < minimum:
            p.write_text(f"{minimum}\n")
    except (OSError, ValueError):
        pass  # not fatal: the lab still works for small N
