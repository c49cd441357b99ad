"""VM checkers over the observer's QEMU samples.

A ``qemu`` sample is ``{"hosts": {host: {vm_id: [pid, proc_state]}}, "doubles":
{vm_id: [[host, pid, state], ...]}}``; ``doubles`` holds the VMs the observer
saw on two hosts and re-read at once (both processes still there), so a VM that
moved between two hosts while a round was being read is not counted. A process
in state T (stopped: its host is frozen) runs no guest code and is not live,
nor is one in state ``-`` (its vCPUs never ran: a live migration's destination
before it is resumed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.checkers.verdict import FAIL, PASS, Verdict
from chaos.history import Sample
from chaos.observer import NOT_EXECUTING

NOT_LIVE = NOT_EXECUTING


def live_hosts(sample: Sample, vm: str) -> list[str]:
    hosts: dict[str, dict[str, Any]] = sample.data.get("hosts", {})
    return sorted(h for h, vms in hosts.items() if vm in vms and vms[vm][1] not in NOT_LIVE)


def check_double_run(samples: Sequence[Sample]) -> Verdict:
    """No VM ever has two live instances."""
    seen: list[dict[str, Any]] = []
    for s in samples:
        for vm, where in (s.data.get("doubles") or {}).items():
            live = [w for w in where if w[2] not in NOT_LIVE]
            if len(live) >= 2:
                seen.append({"t": s.t, "vm": vm, "instances": live})
    vms = {vm for s in samples for vms in s.data.get("hosts", {}).values() for vm in vms}
    if seen:
        names = sorted({d["vm"] for d in seen})
        return Verdict(
            "double_run",
            FAIL,
            f"{len(names)} VMs ran on two hosts at once ({len(seen)} samples)",
            {"double_runs": seen[:50], "vms": names},
        )
    return Verdict(
        "double_run",
        PASS,
        f"{len(samples)} samples of {len(vms)} VMs: never two live instances",
        {"samples": len(samples)},
    )


@dataclass(frozen=True)
class Outage:
    start: float
    end: float

    def overlaps(self, a: float, b: float) -> bool:
        return self.start < b and a < self.end


def down_intervals(samples: Sequence[Sample], vm: str, end: float) -> list[tuple[float, float]]:
    """Intervals in which the VM was live nowhere, after it first ran.
    An interval still open at the end of the samples closes at ``end``."""
    out: list[tuple[float, float]] = []
    started = False
    down_since: float | None = None
    for s in samples:
        live = bool(live_hosts(s, vm))
        if live:
            started = True
            if down_since is not None:
                out.append((down_since, s.t))
                down_since = None
        elif started and down_since is None:
            down_since = s.t
    if down_since is not None:
        out.append((down_since, end))
    return out


def check_ha(
    samples: Sequence[Sample],
    ha_vms: Iterable[str],
    end: float,
    bound_s: float,
    outages: Sequence[Outage] = (),
    outage_bound_s: float = 120.0,
) -> Verdict:
    """Every HA VM that stopped running (its host failed) runs again within ``bound_s``
    (``outage_bound_s`` when the whole cluster was down meanwhile)."""
    late: list[dict[str, Any]] = []
    recoveries: list[float] = []
    never: list[str] = []
    for vm in sorted(ha_vms):
        if not any(live_hosts(s, vm) for s in samples):
            never.append(vm)
            continue
        for a, b in down_intervals(samples, vm, end):
            bound = outage_bound_s if any(o.overlaps(a, b) for o in outages) else bound_s
            recoveries.append(round(b - a, 3))
            if b - a > bound:
                late.append(
                    {
                        "vm": vm,
                        "down_at": a,
                        "up_at": b,
                        "down_s": round(b - a, 2),
                        "bound_s": bound,
                    }
                )
    evidence: dict[str, Any] = {
        "recoveries_s": sorted(recoveries),
        "late": late,
        "never_ran": never,
        "bound_s": bound_s,
        "p99_s": percentile(recoveries, 0.99),
    }
    if late or never:
        what = [
            f"{len(late)} recoveries past the bound" if late else "",
            f"{len(never)} HA VMs never ran" if never else "",
        ]
        return Verdict("ha", FAIL, "; ".join(w for w in what if w), evidence)
    return Verdict(
        "ha",
        PASS,
        f"{len(recoveries)} HA restarts, all within {bound_s:g} s "
        f"(max {max(recoveries, default=0):.1f} s)",
        evidence,
    )


def percentile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]
