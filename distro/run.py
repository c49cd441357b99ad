"""Running the build's tools: argument lists only, output kept for failures, timed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class BuildError(RuntimeError):
    """A build step failed; the message names the step and shows its output."""


def run(argv: Sequence[str | Path], *, input: bytes | None = None, quiet: bool = True) -> str:
    args = [str(a) for a in argv]
    started = time.monotonic()
    proc = subprocess.run(args, input=input, capture_output=quiet, check=False)
    if proc.returncode != 0:
        out = (proc.stdout or b"").decode(errors="replace")[-3000:]
        err = (proc.stderr or b"").decode(errors="replace")[-3000:]
        raise BuildError(f"{args[0]} failed ({proc.returncode}):\n{out}{err}")
    took = time.monotonic() - started
    if took > 5:
        log(f"  {Path(args[0]).name}: {took:.1f} s")
    return (proc.stdout or b"").decode(errors="replace")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
