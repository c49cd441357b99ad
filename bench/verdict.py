"""What every bench prints: each figure beside its target and a verdict, the
invariants it checked, and an exit status that says whether all of them held.

A bench builds a ``Report``: ``figure(key, value, target)`` for each number
(``target`` like ``"<= 10"`` or ``">= 2000"``; None for a figure that only
informs), ``check(name, held, detail)`` for each invariant (no double run, no
lost write, ...), ``note(key, value)`` for context (sizes, modes, where the
logs are). ``emit(as_json)`` prints it and returns the exit status: 0 when every
target is met and every invariant held, 1 otherwise. A figure with a target and
no value (the run could not measure it) is a miss.

JSON keeps each figure under its own key (as before) and adds ``targets``,
``verdicts``, ``invariants``, ``missed`` and ``ok``.
"""

from __future__ import annotations

import contextlib
import json
import operator
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


def meets(value: float | None, target: str) -> bool:
    """Whether ``value`` satisfies ``target`` (``"<= 10"``, ``">= 0.5"``, ...)."""
    op, _, bound = target.strip().partition(" ")
    if op not in _OPS:
        raise ValueError(f"target {target!r}: want '<= N', '>= N', '< N' or '> N'")
    return value is not None and _OPS[op](float(value), float(bound))


@dataclass
class Report:
    """Figures with targets, invariants and notes, in the order they were added."""

    bench: str
    figures: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    invariants: dict[str, tuple[bool, str]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def figure(self, key: str, value: Any, target: str | None = None) -> None:
        self.figures[key] = value
        if target is not None:
            meets(0, target)  # a malformed target fails here, not at the end
            self.targets[key] = target

    def check(self, name: str, held: bool, detail: str = "") -> None:
        self.invariants[name] = (bool(held), detail)

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value

    def verdict(self, key: str) -> str:
        target = self.targets.get(key)
        if target is None:
            return ""
        return "ok" if meets(self.figures.get(key), target) else "MISS"

    @property
    def missed(self) -> list[str]:
        out = [k for k in self.targets if self.verdict(k) == "MISS"]
        return out + [f"invariant:{n}" for n, (held, _) in self.invariants.items() if not held]

    @property
    def ok(self) -> bool:
        return not self.missed

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.figures,
            **self.notes,
            "targets": dict(self.targets),
            "verdicts": {k: self.verdict(k) for k in self.targets},
            "invariants": {n: {"held": h, "detail": d} for n, (h, d) in self.invariants.items()},
            "missed": self.missed,
            "ok": self.ok,
        }

    def lines(self) -> list[str]:
        width = max([24, *(len(k) + 2 for k in [*self.figures, *self.notes])])
        out = [f"{'figure':<{width}} {'value':>14}  {'target':<10} verdict"]
        for k, v in self.figures.items():
            out.append(
                f"{k:<{width}} {_fmt(v):>14}  {self.targets.get(k, ''):<10} {self.verdict(k)}"
            )
        for name, (held, detail) in self.invariants.items():
            status = "held" if held else "BROKEN"
            out.append(f"{'invariant ' + name:<{width}} {status:>14}  {'':<10} {detail}")
        for k, v in self.notes.items():
            out.append(f"{k:<{width}} {_fmt(v):>14}")
        miss = self.missed
        out.append(
            f"{self.bench}: " + ("every target met" if not miss else "MISSED " + ", ".join(miss))
        )
        return out

    def emit(self, as_json: bool) -> int:
        """Print the report; the process's exit status (0: all held)."""
        print(json.dumps(self.as_dict(), sort_keys=True) if as_json else "\n".join(self.lines()))
        return 0 if self.ok else 1


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.0f}"
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return str(v)


def keep_logs(lab: Any, bench: str) -> str:
    """Copy each lab host's peer.log where the lab's teardown does not remove it
    (a bench that fails keeps what explains it); returns the folder."""
    keep = Path(tempfile.mkdtemp(prefix=f"qx-bench-{bench}-logs-", dir="/var/tmp"))
    for h in lab.hosts():
        with contextlib.suppress(OSError):
            shutil.copyfile(h.log, keep / f"{h.name}-peer.log")
    return str(keep)
