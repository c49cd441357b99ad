"""The cluster store's exceptions: one root, a flat set of subclasses.

Each carries a message a person understands and, because some reach the API,
an HTTP status and a stable code.
"""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """Root of every error raised by the cluster store."""

    status = 503
    code = "store_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NoQuorum(StoreError):
    """The cluster cannot commit: no leader, or no majority reachable."""

    code = "no_quorum"


class NotLeader(StoreError):
    """This node is not the leader and the operation needs the leader."""

    code = "not_leader"


class CommitTimeout(StoreError):
    """The command was not known to be committed before the deadline."""

    code = "commit_timeout"


class UnknownOutcome(StoreError):
    """The command may or may not have been applied; retry with the same op id."""

    code = "unknown_outcome"


class Conflict(StoreError):
    """A precondition (absent / version == N) did not hold; nothing was applied."""

    status = 409
    code = "conflict"


class InvalidCommand(StoreError):
    """A command is malformed (bad table name, non-plain data, ...)."""

    status = 400
    code = "invalid_command"


class SecretRequired(StoreError):
    """The store refuses to start without a cluster secret."""

    code = "secret_required"


class CorruptJournal(StoreError):
    """The on-disk journal or snapshot is damaged; refusing to load garbage."""

    code = "corrupt_journal"


class MembershipError(StoreError):
    """A membership change was refused or did not complete."""

    status = 409
    code = "membership_error"
