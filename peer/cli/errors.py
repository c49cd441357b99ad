"""The CLI's one exception: a message for people and the exit code to leave with."""

from __future__ import annotations

EXIT_FAILED = 1  # the API refused or the operation failed
EXIT_USAGE = 2  # bad arguments (argparse uses 2 too)
EXIT_UNREACHABLE = 3  # cannot connect, TLS mismatch


class CliError(Exception):
    def __init__(
        self,
        message: str,
        *,
        exit_code: int = EXIT_FAILED,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status
        self.code = code
