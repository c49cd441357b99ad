"""``quantix console``: the host console (DCUI)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from console.app import App, Options
from console.client import LocalClient
from console.config import DEFAULT_CONFIG, socket_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="quantix console", description="The host console (DCUI), for TTY1 or any terminal."
    )
    ap.add_argument("--socket", type=Path, help="the peer's local socket (default: node.yaml)")
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="node.yaml to read")
    ap.add_argument("--refresh", type=float, default=1.0, help="seconds between refreshes")
    ap.add_argument(
        "--confirm-seconds",
        type=int,
        default=30,
        help="network changes roll back unless confirmed within this time (5-600)",
    )
    ap.add_argument("--log", type=Path, help="append errors (with tracebacks) to this file")
    ap.add_argument(
        "--test-ssh-seconds",
        type=int,
        help=argparse.SUPPRESS,  # tests: SSH timers in seconds (lab/test peers only)
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 5 <= args.confirm_seconds <= 600:
        print("quantix console: --confirm-seconds must be 5-600", file=sys.stderr)
        return 2
    if args.log is not None:
        logging.basicConfig(
            filename=str(args.log),
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
        )
    sock = socket_path(args.config, args.socket)
    options = Options(
        refresh_s=max(0.2, args.refresh),
        confirm_s=args.confirm_seconds,
        ssh_seconds=args.test_ssh_seconds,
    )
    app = App(LocalClient(sock), options)
    app.refresh()
    from console.terminal import run  # asciimatics only when a terminal is used

    return run(app)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
