"""The SSH state machine. Pure: time is passed in.

Modes: ``off``; ``timed`` (on until ``until``, then off by itself); ``permanent``.
A timed enable lasts 5-120 minutes; in lab/test mode a duration in seconds is
allowed so tests can watch the timer expire.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from peer.hostmgmt.errors import InvalidSettings

Mode = Literal["off", "timed", "permanent"]
MIN_MINUTES, MAX_MINUTES = 5, 120


@dataclass(frozen=True)
class SshState:
    mode: Mode = "off"
    until: float | None = None  # wall-clock time the timer ends (timed only)
    since: float | None = None

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def remaining(self, now: float) -> float | None:
        """Seconds left on the timer, or None when there is no timer."""
        if self.mode != "timed" or self.until is None:
            return None
        return max(0.0, self.until - now)

    def expired(self, now: float) -> bool:
        return self.mode == "timed" and self.until is not None and now >= self.until

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(raw: dict[str, Any] | None) -> SshState:
        raw = raw or {}
        mode = raw.get("mode", "off")
        if mode not in ("off", "timed", "permanent"):
            mode = "off"
        until = raw.get("until")
        since = raw.get("since")
        return SshState(
            mode=mode,
            until=None if until is None else float(until),
            since=None if since is None else float(since),
        )


def duration(minutes: int | None, seconds: int | None, *, allow_seconds: bool) -> float:
    """The timer length in seconds for an enable request (validated)."""
    if seconds is not None:
        if not allow_seconds:
            raise InvalidSettings(
                "a timer in seconds is for lab and test hosts only; use minutes (5-120)",
                code="seconds_not_allowed",
            )
        return float(seconds)
    if minutes is None or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise InvalidSettings(f"SSH can be enabled for {MIN_MINUTES}-{MAX_MINUTES} minutes")
    return minutes * 60.0


def transition(state: SshState, action: str, now: float, length: float | None = None) -> SshState:
    """The state after ``action`` (enable, disable, permanent, expire)."""
    if action == "enable":
        assert length is not None
        return SshState("timed", until=now + length, since=now)
    if action == "permanent":
        return SshState("permanent", until=None, since=now)
    if action in ("disable", "expire"):
        return SshState("off", until=None, since=now)
    raise InvalidSettings(f"unknown SSH action {action!r}")
