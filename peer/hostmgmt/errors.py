"""Host-management errors: one root; each carries an HTTP status and a stable code."""

from __future__ import annotations


class HostError(Exception):
    """A host-management request was refused or failed; ``code`` is stable."""

    status = 400
    code = "host_refused"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidSettings(HostError):
    """Settings that fail validation (bad address, gateway outside the subnet, ...)."""

    status = 422
    code = "invalid_settings"


class NetlinkError(HostError):
    """The kernel refused a network change (or the interface does not exist)."""

    status = 409
    code = "network_failed"


class ConsoleLocked(HostError):
    """Too many wrong passwords at the console."""

    status = 423
    code = "console_locked"
