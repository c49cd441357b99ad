"""A host leaving its cluster for factory state (``POST /nodes/<id>/leave``).

The API marks the node record ``leaving`` (and in maintenance, so the leader
moves its VMs to other hosts). The leaving host's ``Leaver`` then, each pass:

1. waits until no VM is placed on it or moving from or to it;
2. commits its node record ``state: removed``, after which the leader takes it
   out of the voters (peer.membership; a leaving leader steps down first, as
   Raft cannot let a leader remove itself);
3. once it no longer votes (or VOTE_WAIT_S after it saw its removal: a removed
   voter never sees its removal from the voters commit), has the daemon stop,
   forget the cluster (Raft data, membership, secret; node id and TLS stay) and
   start again in factory state, where it waits to be adopted or joined again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from peer.logs import kv
from raft.errors import StoreError
from raft.store import Store, put

log = logging.getLogger("peer.leave")

# A removed voter never sees its own removal from the voters commit (the leader
# stops sending it entries first). Its removal from the cluster has committed
# (its record says so), so the leader takes it out of the voters whether it
# runs or not (peer.membership, after REMOVED_GRACE): it waits this long for that
# and then goes.
VOTE_WAIT_S = 6.0


def vms_here(vms: list[dict[str, Any]], me: str) -> int:
    """VMs placed on ``me`` or moving from or to it. Pure."""
    n = 0
    for v in vms:
        mig = v.get("migration")
        moving = isinstance(mig, dict) and me in (mig.get("source"), mig.get("target"))
        if v.get("placement") == me or moving:
            n += 1
    return n


class Leaver:
    """Runs on every peer; acts only when its own node record says ``leaving``."""

    def __init__(
        self,
        store: Store,
        node_id: str,
        to_factory: Callable[[], Awaitable[None]],
        *,
        interval: float = 1.0,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self.to_factory = to_factory
        self.interval = interval
        self._stop = asyncio.Event()
        self._removed_since: float | None = None
        self._said = ""

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                if await self.step():
                    return
            except StoreError as e:
                log.info("leaving: not this pass", extra=kv(reason=e.message))
            except Exception:
                log.exception("leaving: pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def _say(self, what: str) -> None:
        if what != self._said:
            self._said = what
            log.warning("leaving the cluster: %s", what)

    async def step(self) -> bool:
        """One pass; True once the daemon was asked to go to factory state."""
        rec = self.store.get("nodes", self.node_id)
        if rec is None or not rec.value.get("leaving"):
            return False
        if rec.value.get("state") != "removed":
            left = vms_here([r.value for r in self.store.scan("vms")], self.node_id)
            if left:
                self._say(f"waiting for {left} VM(s) to move to other hosts")
                return False
            self._say("no VMs left here: removing this host from the cluster")
            value = dict(rec.value, state="removed", voter=False)
            await self.store.commit([put("nodes", self.node_id, value, expect=rec.version)])
            return False
        store: Any = self.store
        if store.is_leader:
            self._say("handing leadership over first")
            await store.step_down()
            return False
        addr = getattr(store, "self_addr", None)
        votes = addr is not None and addr in store.voters()
        now = time.monotonic()
        if self._removed_since is None:
            self._removed_since = now
        if votes and now - self._removed_since < VOTE_WAIT_S:
            self._say("waiting for the leader to take this host out of the voters")
            return False
        self._say("removed: returning to factory state")
        await self.to_factory()
        return True
