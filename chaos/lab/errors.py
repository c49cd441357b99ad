"""The lab's exceptions: one root, a flat set of subclasses."""

from __future__ import annotations


class LabError(Exception):
    """Root of every error the lab raises; the message says what to do."""


class CommandFailed(LabError):
    """A system command (ip, ...) exited non-zero; the message has its stderr."""


class LabStateError(LabError):
    """The lab's state file is missing, unreadable, or says the lab is in another state."""


class UnknownHost(LabError):
    """No host of that name in this lab."""
