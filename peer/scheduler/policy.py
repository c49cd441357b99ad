"""Scheduler settings: overcommit ratios, spread/pack, balancing (DRS).

Defaults come from the daemon; the cluster-wide ``meta/scheduler`` record (written
by the API) overrides them, so every leader of the cluster applies the same rules.
A bad value in that record is ignored field by field rather than stopping the
scheduler: the leader keeps placing VMs with the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

STRATEGIES = ("spread", "pack")
DRS_MODES = ("off", "manual", "auto")
_TYPES: dict[str, tuple[type, ...]] = {"float": (int, float), "int": (int,), "str": (str,)}


@dataclass(frozen=True)
class SchedulerPolicy:
    # vCPUs placed on a host may reach cpus * cpu_overcommit.
    cpu_overcommit: float = 4.0
    # Memory is not overcommitted by default: a guest that cannot get its RAM is killed.
    memory_overcommit: float = 1.0
    # spread: the host with the most free room; pack: the fullest host that fits.
    strategy: str = "spread"
    # off: nothing; manual: recommendations only (meta/drs); auto: commit them.
    drs_mode: str = "manual"
    # Rebalance when the most and least loaded hosts differ by more than this (0..1).
    drs_threshold: float = 0.25
    # Moves recommended per balancing round (keeps one round cheap and gentle).
    drs_max_moves: int = 4
    # Migrations in flight out of one host at a time (maintenance and DRS).
    max_migrations_per_host: int = 2

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.drs_mode not in DRS_MODES:
            raise ValueError(f"drs_mode must be one of {DRS_MODES}, got {self.drs_mode!r}")
        if self.cpu_overcommit <= 0 or self.memory_overcommit <= 0:
            raise ValueError("overcommit ratios must be positive")
        if self.drs_max_moves < 0 or self.max_migrations_per_host < 1:
            raise ValueError("drs_max_moves must be >= 0 and max_migrations_per_host >= 1")

    def merged(self, overrides: Mapping[str, Any] | None) -> SchedulerPolicy:
        """This policy with the valid fields of ``overrides`` applied."""
        if not overrides:
            return self
        out = self
        for f in fields(self):
            if f.name not in overrides:
                continue
            val = overrides[f.name]
            if isinstance(val, bool) or not isinstance(val, _TYPES[str(f.type)]):
                continue
            if f.type == "float":
                val = float(val)  # type: ignore[arg-type]  # checked just above
            try:
                out = replace(out, **{f.name: val})
            except (ValueError, TypeError):
                continue  # keep the previous value of a bad setting
        return out
