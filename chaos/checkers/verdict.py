"""What a checker answers: pass, fail or unknown, with the evidence behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS = "pass"  # noqa: S105 (a verdict, not a password)
FAIL = "fail"
UNKNOWN = "unknown"  # the checker could not decide (e.g. a search bound was reached)


@dataclass
class Verdict:
    checker: str
    status: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != FAIL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def worst(statuses: list[str]) -> str:
    if FAIL in statuses:
        return FAIL
    if UNKNOWN in statuses:
        return UNKNOWN
    return PASS
