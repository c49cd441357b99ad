"""The lab: N Quantix hosts in network namespaces on one machine (see docs/lab.md)."""

from chaos.lab.errors import CommandFailed, LabError, LabStateError, UnknownHost
from chaos.lab.host import Host, poll_until
from chaos.lab.lab import DEFAULT_NAME, DEFAULT_ROOT, Lab

__all__ = [
    "DEFAULT_NAME",
    "DEFAULT_ROOT",
    "CommandFailed",
    "Host",
    "Lab",
    "LabError",
    "LabStateError",
    "UnknownHost",
    "poll_until",
]
