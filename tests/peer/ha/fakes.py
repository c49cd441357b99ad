"""A LocalStore that can lose its quorum or hang, and a settable clock."""

from __future__ import annotations

import asyncio
import time

from raft.errors import NoQuorum
from raft.store import LocalStore


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


async def wait_for(predicate, timeout: float = 5.0) -> None:
    """Wait (yielding to the loop) until ``predicate()`` holds, or fail."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)
