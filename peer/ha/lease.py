"""Every peer's lease: renewed through Raft each heartbeat; self-fencing when it
cannot be.

``leases/<node_id>`` = ``{"renewed_at": <time.time() at proposal>, "fenced": bool}``;
the store stamps the command with the same clock an instant later, so
``renewed_at`` is the committed command's time. If no renewal commits for
``fence_after`` seconds (local monotonic clock, counted from when the last
successful renewal was *sent*), the peer fences itself: it stops feeding the
hardware watchdog, kills its guests' QEMU processes at once (``plug=True``,
peer.ha.plug), then calls ``on_fence`` (the daemon's own stop of its guests).
The first renewal that commits afterwards ends the fence and calls
``on_unfence`` at once. That renewal says ``fenced: false``: it commits only
because this host reaches a quorum again, and a record saying "fenced" then
would be read by the reconciler's first pass as "start nothing" (guests down
until the next resync). So every committed renewal says ``fenced: false``; the
field stays for readers of older records.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable

from peer.ha.fencing import should_self_fence
from peer.ha.plug import fence_guests
from peer.ha.watchdog import Watchdog
from raft.errors import StoreError
from raft.store import Store, put

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None] | None]


async def _call(cb: Callback | None, what: str) -> None:
    if cb is None:
        return
    try:
        res = cb()
        if inspect.isawaitable(res):
            await res
    except Exception:
        # The fence must not be undone by a failing callback; the watchdog (on a
        # real host) is already stopped. Say so loudly.
        log.exception("%s callback failed", what)


def lease_value(renewed_at: float, fenced: bool = False) -> dict[str, object]:
    return {"renewed_at": renewed_at, "fenced": fenced}


class LeaseRenewer:
    """Run ``run()`` on every peer from start-up. ``tick()`` is one renewal
    attempt plus the fence check (tests drive it with fake clocks)."""

    def __init__(
        self,
        store: Store,
        node_id: str,
        *,
        heartbeat: float,
        fence_after: float,
        on_fence: Callback,
        on_unfence: Callback | None = None,
        watchdog: Watchdog | None = None,
        plug: bool = False,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        if heartbeat <= 0 or fence_after <= heartbeat:
            raise ValueError("need 0 < heartbeat < fence_after")
        self.store = store
        self.node_id = node_id
        self.heartbeat = heartbeat
        self.fence_after = fence_after
        self.on_fence = on_fence
        self.on_unfence = on_unfence
        self.watchdog = watchdog or Watchdog(False)
        # Kill this host's guests' QEMU processes at once when fencing (peer.ha.plug).
        # Off by default: a unit test must never signal processes it did not start.
        self.plug = plug
        self.wall = wall
        self.mono = mono
        # Start-up counts as a renewal: a peer that never reaches the cluster fences
        # fence_after after starting (it should not have started guests anyway).
        self.last_ok = mono()
        self.fenced = False
        self.renewed = asyncio.Event()  # set by the first renewal that commits
        self._stop = asyncio.Event()

    @property
    def deadline(self) -> float:
        """Local monotonic time at which this peer fences unless a renewal commits."""
        return self.last_ok + self.fence_after

    async def tick(self) -> bool:
        """One renewal attempt, bounded so the fence is never late; True if committed."""
        sent = self.mono()
        stopping: asyncio.Task[None] | None = None
        if not self.fenced and should_self_fence(sent, self.last_ok, self.fence_after):
            # Woken too late (a stalled loop, a suspended process): the leader may
            # already count us fenced, so fence before trying anything else. The
            # plug is pulled now; the orderly stop runs while we try to renew (a
            # renewal that commits keeps the leader from restarting our guests
            # elsewhere, so trying at once is safe and shortens the outage), and
            # is awaited before anything is started again.
            self._fence_now()
            stopping = asyncio.create_task(_call(self.on_fence, "fence"))
        budget = self.heartbeat
        if not self.fenced:
            budget = max(0.01, min(self.heartbeat, self.deadline - sent))
        # A renewal that commits ends a fence: it says so itself.
        ok = await self._renew(budget)
        if stopping is not None:
            await stopping
        if ok:
            self.last_ok = sent
            self.watchdog.feed()
            self.renewed.set()
            if self.fenced:
                self.fenced = False
                log.warning("lease renewed again after fencing; resuming")
                await _call(self.on_unfence, "unfence")
        elif not self.fenced and should_self_fence(self.mono(), self.last_ok, self.fence_after):
            await self.fence()
        return ok

    async def fence(self) -> None:
        self._fence_now()
        await _call(self.on_fence, "fence")

    def _fence_now(self) -> None:
        """The part of fencing that cannot wait: the flag, the watchdog, the plug."""
        self.fenced = True
        log.critical(
            "no lease renewal committed for %.1f s (fence_after %.1f s): fencing this host",
            self.mono() - self.last_ok,
            self.fence_after,
        )
        self.watchdog.stop()
        if self.plug:
            try:
                vms = [(r.key, r.value) for r in self.store.scan("vms")]
                fence_guests(vms, self.node_id)
            except OSError:
                log.exception("pulling the plug failed; on_fence must stop the guests")

    async def _renew(self, budget: float) -> bool:
        op = put("leases", self.node_id, lease_value(self.wall(), fenced=False))
        try:
            await asyncio.wait_for(self.store.commit([op], timeout=budget), budget)
            return True
        except (StoreError, TimeoutError) as e:
            log.debug("lease renewal failed: %s", e)
            return False

    async def run(self) -> None:
        """Renew every ``heartbeat`` until ``stop()``; never sleeps past the deadline."""
        while not self._stop.is_set():
            started = self.mono()
            await self.tick()
            # Renew at the next multiple of ``heartbeat`` on the wall clock, never
            # later than one heartbeat after this attempt started: every peer then
            # renews in the same instant and the leader replicates their renewals
            # in one round instead of one round each (idle CPU of every peer).
            to_boundary = self.heartbeat - self.wall() % self.heartbeat
            wake = min(started + self.heartbeat, self.mono() + to_boundary)
            if not self.fenced:
                wake = min(wake, self.deadline)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, wake - self.mono()))

    def stop(self) -> None:
        self._stop.set()
