"""What touches the machine itself: sshd, services, power, the hostname, DHCP.

Two modes. ``system``: a real host, changes go through systemctl/hostnamectl.
``record``: the lab and tests, where the peer does not own the machine (several
peers share one kernel): the action is recorded in the state file and reported,
never executed — a console's "reboot" in the lab must not reboot the machine.

The mode is ``record`` when the peer drives an embedded or test hypervisor
(``libvirt_uri`` not ``qemu:///system``), else ``system``; the environment
variable ``QUANTIX_HOST_ACTIONS=system|record`` overrides it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from peer.hostmgmt.errors import HostError

log = logging.getLogger("peer.hostmgmt")

SERVICES = {
    "peer": "quantix-peer",
    "libvirt": "libvirtd",
    "ovs": "openvswitch-switch",
    "ssh": "ssh",
}
POWER = {"reboot": ["systemctl", "reboot"], "shutdown": ["systemctl", "poweroff"]}


def actions_mode(libvirt_uri: str) -> str:
    env = os.environ.get("QUANTIX_HOST_ACTIONS", "").strip().lower()
    if env in ("system", "record"):
        return env
    return "system" if libvirt_uri.startswith("qemu:///system") else "record"


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def run(argv: list[str], timeout: float = 30.0) -> None:
    """Run one command (argument list, never a shell); HostError when it fails."""
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HostError(f"{argv[0]} failed: {e}", code="command_failed", status=500) from None
    if res.returncode != 0:
        msg = (res.stderr or res.stdout).strip()[:300]
        raise HostError(
            f"{' '.join(argv)} exited {res.returncode}: {msg}", code="command_failed", status=500
        )


def set_sshd(enabled: bool, mode: str) -> str:
    """Start or stop sshd; returns how (``systemd`` or ``recorded``)."""
    if mode == "system" and systemd_running():
        run(["systemctl", "start" if enabled else "stop", SERVICES["ssh"]])
        return "systemd"
    return "recorded"


def restart_service(name: str, mode: str) -> str:
    unit = SERVICES.get(name)
    if unit is None:
        raise HostError(f"unknown service {name!r}", code="unknown_service")
    if mode == "system" and systemd_running():
        # --no-block: restarting the peer itself must not wait on this request.
        run(["systemctl", "--no-block", "restart", unit])
        return "systemd"
    return "recorded"


def power(action: str, mode: str) -> str:
    argv = POWER.get(action)
    if argv is None:
        raise HostError(f"unknown power action {action!r}", code="unknown_action")
    if mode == "system":
        log.warning("power action requested from the console", extra={"action": action})
        run(argv)
        return "executed"
    return "recorded"


# On Quantix-OS /etc is rebuilt at every boot; the initrd restores the host name
# from here (the data partition's config/, bound to /etc/quantix).
QUANTIX_OS_HOSTNAME = Path("/etc/quantix/hostname")
QUANTIX_OS_MARK = Path("/run/quantix/slot")


def set_hostname(name: str, mode: str) -> str:
    if mode == "system" and shutil.which("hostnamectl") and systemd_running():
        run(["hostnamectl", "set-hostname", name])
        if QUANTIX_OS_MARK.exists():
            QUANTIX_OS_HOSTNAME.write_text(name + "\n")
        return "systemd"
    return "recorded"


def dhcp(device: str, mode: str) -> str:
    """Ask for a DHCP lease on ``device`` (real hosts only: the lab has no DHCP server)."""
    if mode != "system":
        return "recorded"
    client = shutil.which("dhclient")
    if client is None:
        raise HostError("no DHCP client (dhclient) on this host", code="no_dhcp_client")
    run([client, "-1", device], timeout=60)
    return "dhclient"
