"""Faults: each a context manager that undoes itself (see base.Fault)."""

from __future__ import annotations

from typing import Any

from chaos.client import PeerClient
from chaos.faults.base import TABLE, Fault
from chaos.faults.clock import ClockJump
from chaos.faults.disk import DiskFull
from chaos.faults.net import Flap, Netem, Partition
from chaos.faults.process import CrashPeer, KillHost, PauseHost, PowerCycle
from chaos.faults.sweep import sweep
from chaos.lab import Lab

KINDS = (
    "kill9",
    "pause",
    "peer_crash",
    "partition",
    "partition_oneway",
    "flap",
    "netem",
    "clock",
    "disk_full",
    "power_cycle",
)


def build(
    lab: Lab, spec: dict[str, Any], watchdog_s: float, clients: dict[str, PeerClient] | None = None
) -> Fault:
    """A fault from a schedule step: ``{"kind", "hosts", "groups", "params"}``."""
    kind, hosts, p = spec["kind"], list(spec.get("hosts") or []), dict(spec.get("params") or {})
    if kind == "kill9":
        return KillHost(lab, hosts)
    if kind == "power_cycle":
        return PowerCycle(lab, hosts)
    if kind == "pause":
        return PauseHost(lab, hosts, watchdog_s, clients)
    if kind == "peer_crash":
        return CrashPeer(lab, hosts, watchdog_s, clients)
    if kind in ("partition", "partition_oneway"):
        return Partition(lab, spec["groups"], oneway=kind == "partition_oneway")
    if kind == "flap":
        return Flap(lab, hosts, **p)
    if kind == "netem":
        return Netem(lab, hosts, **p)
    if kind == "clock":
        return ClockJump(lab, hosts, **p)
    if kind == "disk_full":
        return DiskFull(lab, hosts)
    raise ValueError(f"unknown fault kind {kind!r}")


__all__ = [
    "KINDS",
    "TABLE",
    "ClockJump",
    "CrashPeer",
    "DiskFull",
    "Fault",
    "Flap",
    "KillHost",
    "Netem",
    "Partition",
    "PauseHost",
    "PowerCycle",
    "build",
    "sweep",
]
