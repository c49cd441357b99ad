"""Live migration between two peers' own QEMU drivers.

libvirt's migration API needs the source to open a connection to the
destination's libvirt. A peer's driver is embedded in the peer process
(``qemu:///embed``), which nobody else can connect to, so libvirt's protocol
cannot join two of them. QEMU's own migration can, and libvirt still runs both
ends' domains:

1. the destination defines the domain from the same spec as usual, then starts
   that definition as a *live-only* config with ``-incoming defer``, paused
   (``start_incoming``); its stored definition stays without it, so a later
   ordinary start boots normally;
2. it asks its QEMU to listen (``migrate-incoming`` on port 0: the kernel picks a
   free one, ``query-migrate`` says which) and hands the URI to the source;
3. the source's QEMU sends RAM and device state (``migrate``; the disks are on a
   pool both hosts see, so they are not copied) while the guest runs, then
   pauses the guest for the last pass (QEMU's ``downtime-limit``);
4. the destination's QEMU now holds the whole guest, paused: it runs only when
   the peer resumes it, after the source's copy is gone (the caller's order: two
   executing copies must never exist, see docs/ha.md).

The two ends' QEMUs talk TCP between the hosts' management addresses.
Everything here except the QMP calls is pure.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypervisor import errors as E
from hypervisor.domxml import xml_root

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
# QEMU's default (128 MiB/s on 7.2) would make a 256 MiB guest take seconds for
# nothing on a LAN; the guest pauses for at most this long at the switch-over.
MAX_BANDWIDTH = 1 << 30  # bytes/s
DOWNTIME_LIMIT_MS = 300
POLL_S = 0.1
# QEMU's query-migrate statuses.
DONE = "completed"
FAILED = frozenset({"failed", "cancelled"})


class MigrationFailed(E.HypervisorError):
    """QEMU's migration failed or was cancelled; the source guest still runs."""

    status = 409
    code = "migration_failed"


@dataclass(frozen=True)
class MigrationProgress:
    status: str  # QEMU's: setup, active, completed, failed, cancelled, ...
    transferred: int  # RAM bytes sent so far
    remaining: int  # RAM bytes still dirty
    total: int  # guest RAM bytes

    @property
    def fraction(self) -> float:
        """0..1: how much of the guest's RAM is clean on the other side."""
        if self.status == DONE:
            return 1.0
        if self.total <= 0:
            return 0.0
        return max(0.0, min(1.0, 1.0 - self.remaining / self.total))


def incoming_xml(inactive_xml: str) -> str:
    """The domain's definition plus ``-incoming defer``, as a live-only config."""
    ET.register_namespace("qemu", QEMU_NS)
    root = xml_root(inactive_xml)
    cmd = root.find(f"{{{QEMU_NS}}}commandline")
    if cmd is None:
        cmd = ET.SubElement(root, f"{{{QEMU_NS}}}commandline")
    for value in ("-incoming", "defer"):
        ET.SubElement(cmd, f"{{{QEMU_NS}}}arg", value=value)
    return ET.tostring(root, encoding="unicode")


def listen_uri(host: str, port: int = 0) -> str:
    """Where the destination's QEMU listens: ``host`` (its management address),
    ``port`` (0: the kernel chooses; the peer picks one its firewall guards)."""
    if ":" in host:
        raise E.InvalidSpec(f"{host!r}: live migration listens on IPv4 addresses only")
    if not 0 <= port <= 65535:
        raise E.InvalidSpec(f"{port!r} is not a port")
    return f"tcp:{host}:{int(port)}"


def bound_uri(info: Mapping[str, Any], host: str) -> str:
    """The URI the source connects to, from the destination's ``query-migrate``
    (QEMU reports the port it bound in ``socket-address``)."""
    for addr in info.get("socket-address") or []:
        if addr.get("type") in ("inet", "tcp") and addr.get("port"):
            return f"tcp:{host}:{int(addr['port'])}"
    raise E.OperationFailed("the incoming migration is not listening", qmp=dict(info))


def progress_of(info: Mapping[str, Any]) -> MigrationProgress:
    ram = info.get("ram") or {}
    return MigrationProgress(
        status=str(info.get("status") or "none"),
        transferred=int(ram.get("transferred") or 0),
        remaining=int(ram.get("remaining") or 0),
        total=int(ram.get("total") or 0),
    )


Qmp = Callable[..., Any]


def send(
    qmp: Qmp,
    uri: str,
    on_progress: Callable[[MigrationProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    timeout: float = 600.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Migrate the source's guest to ``uri`` through ``qmp`` (a domain's
    ``qmp``); returns QEMU's final ``query-migrate``. On failure, cancel or
    timeout the source guest keeps running (QEMU resumes it) and
    MigrationFailed says why."""
    qmp("migrate-set-parameters", **{"max-bandwidth": MAX_BANDWIDTH})
    qmp("migrate-set-parameters", **{"downtime-limit": DOWNTIME_LIMIT_MS})
    qmp("migrate", uri=uri)
    deadline = clock() + timeout
    while True:
        info = qmp("query-migrate") or {}
        p = progress_of(info)
        if on_progress is not None:
            on_progress(p)
        if p.status == DONE:
            return dict(info)
        if p.status in FAILED:
            why = info.get("error-desc") or p.status
            raise MigrationFailed(f"live migration {p.status}: {why}")
        if (cancelled is not None and cancelled()) or clock() > deadline:
            reason = "cancelled" if clock() <= deadline else f"not done after {timeout:.0f} s"
            qmp("migrate_cancel")
            raise MigrationFailed(f"live migration {reason}")
        sleep(POLL_S)
