"""``quantix os ...`` on a Quantix-OS host: ``install`` (the installer), ``status``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from peer.osimage import install as inst
from peer.osimage.slots import status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="quantix os", description="Quantix-OS on this host.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("install", help="write this system to another disk")
    i.add_argument("--disk", help="the target disk, e.g. /dev/sdb (everything on it is lost)")
    i.add_argument("--answers", type=Path, help="an answer file (docs/os.md)")
    i.add_argument("--auto", action="store_true", help="the answers this boot was given, if any")
    i.add_argument("--no-reboot", action="store_true")
    sub.add_parser("status", help="the running slot, its version and the boot entries")
    args = ap.parse_args(argv)
    if args.cmd == "status":
        print(json.dumps(status(), indent=2))
        return 0
    try:
        if args.auto:
            answers = inst.answers_for_boot()
            if answers is None:
                return 0  # a normal boot: nothing to install
        elif args.answers:
            answers = inst.parse_answers(args.answers.read_text())
        elif args.disk:
            answers = inst.Answers(disk=args.disk)
        else:
            ap.error("give --disk, --answers or --auto")
        inst.install(answers, log=lambda m: print(f"quantix install: {m}", flush=True))
    except inst.InstallError as e:
        print(f"quantix install: {e}", file=sys.stderr)
        return 1
    if answers.reboot and not args.no_reboot:
        print("quantix install: rebooting into the installed system", flush=True)
        subprocess.run(["systemctl", "reboot"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
