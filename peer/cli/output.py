"""Printing: aligned tables by default, JSON with ``-o json``, progress bars."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def col(title: str, key: str | Callable[[dict[str, Any]], Any]) -> Column:
    return (title, key if callable(key) else (lambda d, k=key: d.get(k)))


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict):
        return ",".join(f"{k}={x}" for k, x in v.items()) or "-"
    if isinstance(v, list):
        return ",".join(_cell(x) for x in v) or "-"
    return str(v)


def when(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[Column], out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    cells = [[_cell(get(r)) for _, get in columns] for r in rows]
    heads = [t for t, _ in columns]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    print(
        "  ".join(h.upper().ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip(), file=out
    )
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip(), file=out)


def details(obj: dict[str, Any], out: TextIO | None = None) -> None:
    """One record as ``key: value`` lines (nested values as compact JSON)."""
    out = out or sys.stdout
    width = max((len(k) for k in obj), default=0)
    for k, v in obj.items():
        text = json.dumps(v) if isinstance(v, (dict, list)) else _cell(v)
        print(f"{k.ljust(width)}  {text}", file=out)


def emit(data: Any, fmt: str, columns: Sequence[Column] | None = None) -> None:
    """Print ``data`` (a record, or a list of records) in the chosen format."""
    if fmt == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
    elif isinstance(data, list):
        table(data, columns or [col("id", "id")])
    elif isinstance(data, dict):
        details(data)
    elif data is not None:
        print(data)


class Progress:
    """A one-line progress bar on stderr (only when it is a terminal)."""

    def __init__(self, label: str, out: TextIO | None = None) -> None:
        self.label = label
        self.out = out or sys.stderr
        self.live = self.out.isatty()

    def update(self, fraction: float, state: str) -> None:
        if not self.live:
            return
        n = int(max(0.0, min(1.0, fraction)) * 30)
        bar = "#" * n + "." * (30 - n)
        self.out.write(f"\r{self.label} [{bar}] {int(fraction * 100):3d}% {state:<10}")
        self.out.flush()

    def done(self) -> None:
        if self.live:
            self.out.write("\n")
            self.out.flush()
