"""A LocalStore that can lose its quorum or hang, a settable clock, and a process
that looks like a guest's QEMU to peer.ha.plug."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from raft.errors import NoQuorum
from raft.store import LocalStore
from tests.util import wait_for


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


class FlakyStore(LocalStore):
    """``down``: commits fail with NoQuorum; ``hang``: commits never return;
    ``on_commit``: called before each commit is applied (to race it)."""

    def __init__(self, node_id: str = "local") -> None:
        super().__init__(node_id)
        self.down = False
        self.hang = False
        self.on_commit = None
        self.commits = 0

    async def _submit(self, cmd, timeout):
        if self.down:
            raise NoQuorum("no majority reachable")
        if self.hang:
            await asyncio.Event().wait()
        if self.on_commit is not None:
            self.on_commit(cmd)
        self.commits += 1
        return self._apply(cmd)


def fake_guest(vm: str) -> subprocess.Popen[bytes]:
    """A sleeping process whose command line carries ``guest=qx-<vm>`` as QEMU's
    does. Returns once /proc shows that command line: Popen returns before the
    child has exec'd, and a plug looking earlier finds nothing."""
    p = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"guest=qx-{vm},debug-threads=on"]
    )
    marker = f"guest=qx-{vm}".encode()
    cmdline = Path(f"/proc/{p.pid}/cmdline")
    wait_for(lambda: marker in cmdline.read_bytes(), 10, "the fake guest's exec", 0.01)
    return p
