"""Console errors: one root."""

from __future__ import annotations

from typing import Any


class ConsoleError(Exception):
    """Root of the console's errors."""


class PeerUnreachable(ConsoleError):
    """The local peer's socket does not answer."""


class ApiRefused(ConsoleError):
    """The peer answered with an error: ``status``, ``code``, ``message``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
