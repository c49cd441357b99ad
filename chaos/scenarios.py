"""Scenarios (which fault kinds a run mixes) and profiles (how big and how long)."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.faults import KINDS

# One scenario per fault kind, and "mixed": every kind, shuffled by the seed.
SCENARIOS: dict[str, list[str]] = {k: [k] for k in KINDS}
SCENARIOS["mixed"] = list(KINDS)


@dataclass(frozen=True)
class Profile:
    nodes: int
    duration: float
    every_kind_once: bool
    registers: int
    ha_vms: int


PROFILES = {
    # The default test: 3 hosts, every fault kind once, a few minutes.
    "short": Profile(nodes=3, duration=60, every_kind_once=True, registers=3, ha_vms=3),
    # The soak: 5 hosts, every scenario, long runs (see docs/chaos.md).
    "long": Profile(nodes=5, duration=600, every_kind_once=True, registers=5, ha_vms=5),
}


def scenario_names(arg: str) -> list[str]:
    if arg == "all":
        return list(SCENARIOS)
    names = [a for a in arg.split(",") if a]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(
            f"unknown scenario {unknown[0]!r}; choose from: all, {', '.join(SCENARIOS)}"
        )
    return names
