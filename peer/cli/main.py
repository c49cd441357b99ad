"""``quantix``: the entry point. Parses arguments, runs one command, turns every
failure into a one-line message and a non-zero exit code (never a traceback).

Exit codes: 0 ok, 1 the API refused or the operation failed, 2 bad usage,
3 the peer cannot be reached (or its certificate does not match), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
from collections.abc import Sequence

from peer.cli import config as cfgmod
from peer.cli.client import ApiClient
from peer.cli.commands import admin, cluster, guest, osupdate, session, storage, tasks, vm
from peer.cli.config import Context
from peer.cli.errors import EXIT_FAILED, CliError

# Subcommands other parts own, imported only when used.
EXTERNAL = {
    "peer": ("peer.daemon", "run the peer daemon"),
    "lab": ("chaos.lab.cli", "the N-host lab on this machine"),
    "chaos": ("chaos.cli", "the chaos harness"),
    "console": ("console.main", "the host console (DCUI)"),
    "os": ("peer.osimage.cli", "Quantix-OS on this host: install, status"),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="quantix",
        description="Manage a Quantix cluster through any of its peers.",
        epilog="Also: " + ", ".join(f"'quantix {k} ...' ({v[1]})" for k, v in EXTERNAL.items()),
    )
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    p.add_argument("--context", "-c", help="saved context to use (default: the current one)")
    p.add_argument(
        "--url",
        default=os.environ.get("QUANTIX_URL"),
        help="talk to this peer instead of a saved context (env QUANTIX_URL)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("QUANTIX_TOKEN"),
        help="API token for --url (env QUANTIX_TOKEN)",
    )
    p.add_argument("--insecure", action="store_true", help="with --url: skip certificate checks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in (session, cluster, vm, guest, storage, tasks, admin, osupdate):
        mod.register(sub)
    for name, (_, help_text) in EXTERNAL.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return p


def _context(args: argparse.Namespace) -> Context:
    if args.url:
        return Context(url=args.url.rstrip("/"), token=args.token, insecure=args.insecure)
    ctx = cfgmod.load().get(args.context)
    if args.token:
        ctx.token = args.token
    if not ctx.token and not ctx.socket:
        raise CliError("not logged in: run 'quantix login URL'")
    return ctx


async def _run(args: argparse.Namespace) -> int | None:
    async with ApiClient(_context(args)) as client:
        result: int | None = await args.func(args, client)
        return result


def _external(name: str, argv: list[str]) -> int:
    module = EXTERNAL[name][0]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            print(
                f"quantix {name}: not available in this installation ({module} is missing)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        raise
    return int(mod.main(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in EXTERNAL:
        return _external(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.local:
            result = args.func(args)
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
        else:
            result = asyncio.run(_run(args))
    except CliError as e:
        code = f" ({e.code})" if e.code else ""
        print(f"quantix: {e.message}{code}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # quantix ... | head
        return 0
    except Exception as e:  # a bug in the CLI: still one line unless debugging
        if os.environ.get("QUANTIX_DEBUG"):
            raise
        print(
            f"quantix: internal error: {type(e).__name__}: {e} "
            "(QUANTIX_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
