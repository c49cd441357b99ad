"""The history of a run: every client operation and every observation, timestamped.

Times are seconds since the run's start on one monotonic clock. An operation is
recorded at invocation and completed with ``ok`` / ``fail`` / ``unknown``; an
``unknown`` one may or may not have taken effect (checkers treat it so).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

INVOKE = "invoke"


@dataclass
class Op:
    """One client operation. ``f``: read, write, cas, create, delete, vm_* ...;
    ``value``: what was written (cas: ``[old, new]``) or, for a read, what was read."""

    id: int
    process: str
    host: str
    f: str
    key: str
    value: Any
    start: float
    end: float | None = None
    type: str = INVOKE  # invoke (still open) | ok | fail | unknown
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> Op:
        return Op(**d)


@dataclass
class Sample:
    """Something the observer saw at time ``t`` (kind: qemu, role, fault, ...)."""

    t: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class History:
    """Thread-safe recorder of operations and samples."""

    def __init__(self, t0: float | None = None) -> None:
        self.t0 = time.monotonic() if t0 is None else t0
        self.ops: list[Op] = []
        self.samples: list[Sample] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def invoke(self, process: str, host: str, f: str, key: str, value: Any = None) -> Op:
        op = Op(next(self._ids), process, host, f, key, value, self.now())
        with self._lock:
            self.ops.append(op)
        return op

    def complete(
        self, op: Op, type_: str, value: Any = None, error: str | None = None, keep: bool = False
    ) -> Op:
        """Close ``op``. ``value`` replaces the op's value unless ``keep``."""
        op.end = self.now()
        op.type = type_
        op.error = error
        if not keep:
            op.value = value
        return op

    def sample(self, kind: str, **data: Any) -> None:
        s = Sample(self.now(), kind, data)
        with self._lock:
            self.samples.append(s)

    def samples_of(self, kind: str) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.kind == kind]

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "ops": [o.to_json() for o in self.ops],
                "samples": [asdict(s) for s in self.samples],
            }
