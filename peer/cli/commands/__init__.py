"""The CLI's command groups; each module has ``register(subparsers)``.

A leaf command is ``async def run(args, client) -> int | None`` (None means 0),
or with ``local=True`` a plain ``def run(args) -> int | None`` that needs no
server (context management).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from peer.cli.client import ApiClient

Runner = Callable[[argparse.Namespace, ApiClient], Awaitable[int | None]]
Sub = Any  # argparse's _SubParsersAction is private


def leaf(
    sub: Sub, name: str, help: str, func: Any, *, local: bool = False
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    p.set_defaults(func=func, local=local)
    # Also accepted after the command (quantix vm list -o json); SUPPRESS keeps
    # the global value when it is not given here.
    p.add_argument(
        "-o",
        "--output",
        choices=["table", "json"],
        default=argparse.SUPPRESS,
        help="table (default) or json",
    )
    return p


def group(sub: Sub, name: str, help: str, aliases: list[str] | None = None) -> Sub:
    p = sub.add_parser(name, help=help, description=help, aliases=aliases or [])
    inner = p.add_subparsers(dest=f"{name}_cmd", metavar="COMMAND", required=True)
    return inner
