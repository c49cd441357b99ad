"""The nemesis schedule: which fault, on which hosts, when and for how long — all
drawn from one seed, so a failing run replays exactly (same steps, same order)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.faults import KINDS


@dataclass
class Step:
    at: float  # seconds after the workload started
    duration: float
    kind: str
    hosts: list[str]
    groups: list[list[str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _minority(rng: random.Random, hosts: list[str]) -> list[str]:
    k = rng.randint(1, max(1, (len(hosts) - 1) // 2))
    return sorted(rng.sample(hosts, k))


def make_step(
    rng: random.Random, kind: str, hosts: list[str], at: float, watchdog_s: float
) -> Step:
    """One step of ``kind`` at ``at``. Pure given the generator's state."""
    d = round(rng.uniform(5, 10), 1)
    if kind in ("kill9", "disk_full", "flap"):
        flap = {"period_s": round(rng.uniform(0.8, 2.0), 1)} if kind == "flap" else {}
        return Step(at, d, kind, _minority(rng, hosts), params=flap)
    if kind in ("pause", "peer_crash"):
        # Mostly shorter than the watchdog (the host comes back as it was); one in
        # four longer (the emulated watchdog resets the host).
        long = rng.random() < 0.25
        d = round(
            rng.uniform(watchdog_s + 2, watchdog_s + 6) if long else rng.uniform(1, watchdog_s - 1),
            1,
        )
        return Step(at, d, kind, [rng.choice(hosts)])
    if kind in ("partition", "partition_oneway"):
        minority = _minority(rng, hosts)
        rest = sorted(h for h in hosts if h not in minority)
        groups = [minority, rest] if kind == "partition" or rng.random() < 0.5 else [rest, minority]
        return Step(at, round(rng.uniform(8, 15), 1), kind, sorted(hosts), groups=groups)
    if kind == "netem":
        k = rng.randint(1, len(hosts))
        params = {
            "delay_ms": rng.randint(30, 200),
            "jitter_ms": rng.randint(5, 50),
            "loss_pct": round(rng.uniform(0.5, 8), 1),
            "reorder_pct": round(rng.uniform(5, 25), 1),
        }
        return Step(at, d, kind, sorted(rng.sample(hosts, k)), params=params)
    if kind == "clock":
        offset = rng.choice([-1, 1]) * rng.randint(20, 120)
        return Step(at, d, kind, [rng.choice(hosts)], params={"offset_s": offset})
    if kind == "power_cycle":
        return Step(at, round(rng.uniform(1, 3), 1), kind, sorted(hosts))
    raise ValueError(f"unknown fault kind {kind!r}")


def schedule(
    seed: int,
    kinds: list[str],
    hosts: list[str],
    duration: float,
    *,
    warmup_s: float = 5.0,
    quiet_s: tuple[float, float] = (4.0, 8.0),
    watchdog_s: float = 6.0,
    every_kind_once: bool = False,
) -> list[Step]:
    """Faults one at a time with quiet stretches between them, until ``duration``
    (``every_kind_once``: go on until each kind ran once, whatever the duration).
    Kinds are drawn as shuffled rounds, so each appears before any repeats."""
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown fault kind {k!r}; kinds: {', '.join(KINDS)}")
    rng = random.Random(seed)  # noqa: S311 (replayable chaos, not secrets)
    steps: list[Step] = []
    t = warmup_s
    bag: list[str] = []
    seen: set[str] = set()
    while t < duration or (every_kind_once and seen != set(kinds)):
        if not bag:
            bag = list(kinds)
            rng.shuffle(bag)
        kind = bag.pop()
        step = make_step(rng, kind, hosts, round(t, 1), watchdog_s)
        steps.append(step)
        seen.add(kind)
        t = step.at + step.duration + rng.uniform(*quiet_s)
    return steps
