"""Healing a split brain: the daemon's side of ``discovery.bootstrap.merge``.

Runs on every member. It keeps this host's mDNS announcement saying whether its
cluster is still *young* (nothing a user made or runs: see ``is_young``) and,
whenever mDNS shows another instance of the cluster's name, applies the merge
rule: a young instance, or one that runs no VM, that is not the one the others
give way to leaves it (each of its hosts on its own) and joins the winner; an
instance that should give way but runs VMs is reported — an ERROR log line, a
``cluster.split_brain`` event, and ``split_brain`` in ``GET /api/v1/peer`` — and
an admin can make one side rejoin the other with ``POST /api/v1/cluster/rejoin``
(it commits ``meta/rejoin``, which every member of that side acts on).

The move itself (stop, set the old state aside, start again as a joiner) is the
daemon's ``leave_for`` hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from discovery.bootstrap import Merge, instances
from peer.events.log import emit, event_value
from peer.logs import kv
from raft.errors import StoreError
from raft.store import Store

log = logging.getLogger("peer.heal")

# Tables only a user (or a user's workload) fills. Formation itself writes
# meta/cluster, users/admin, nodes, leases, events and the joins' audit records.
USER_TABLES = (
    "vms",
    "volumes",
    "networks",
    "images",
    "pools",
    "groups",
    "tokens",
    "sessions",
)
# vm_status states in which a VM is not running (anything else counts as running:
# the safe side, since a running VM blocks an automatic move).
NOT_RUNNING = frozenset({"stopped", "error", "undefined", "shutoff", "crashed"})
ANONYMOUS = "-"  # peer/auth/principal.ANONYMOUS_USER: joins are audited as anonymous
INITIAL_ADMIN = "admin"
REJOIN_KEY = "rejoin"  # meta/rejoin: {"into": cluster id, "by": user, "at": ts}

MoveHook = Callable[[Merge, bool], Awaitable[None]]


def is_young(store: Store) -> bool:
    """No workload and no user changes: the cluster holds nothing but what
    formation wrote, so dissolving it loses nothing (the admin password printed
    at bootstrap is the only thing that stops being valid)."""
    if any(store.count(t) for t in USER_TABLES):
        return False
    users = store.scan("users")
    if len(users) > 1 or any(u.key != INITIAL_ADMIN or u.version > 1 for u in users):
        return False
    return not any(a.value.get("user") not in (ANONYMOUS, None) for a in store.scan("audit"))


def running_vms(store: Store) -> int:
    return sum(1 for r in store.scan("vm_status") if r.value.get("state") not in NOT_RUNNING)


class SplitHealer:
    """One per member; acts through ``discovery`` and the ``move`` hook."""

    def __init__(
        self, store: Store, discovery: Any, node_id: str, move: MoveHook, interval: float = 1.0
    ) -> None:
        self.store = store
        self.discovery = discovery
        self.node_id = node_id
        self.move = move
        self.interval = interval
        self.decision: Merge | None = None
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self._logged: set[str] = set()
        self._emitted: set[str] = set()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        d = self.decision
        if d is None or d.action == "stay":
            return {"split_brain": None}
        return {"split_brain": {"action": d.action, "into": d.into, "reason": d.reason}}

    async def run(self) -> None:
        unsubscribe = self.discovery.subscribe(lambda *_: self._changed.set())
        try:
            while not self._stop.is_set():
                self._changed.clear()
                try:
                    if await self.step():
                        return  # moving: the daemon is stopping
                except StoreError as e:
                    log.info("split check failed", extra=kv(reason=e.message))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.interval)
        finally:
            unsubscribe()

    async def step(self) -> bool:
        """One pass; True when this host is leaving its instance."""
        young = is_young(self.store)
        if young != self.discovery.me.young:
            await self.discovery.async_update(young=young)
        asked = self._asked_to_rejoin()
        if asked is not None:
            await self.move(asked, not young)
            return True
        d = self.discovery.merge(running_vms(self.store))
        self.decision = d
        if d.action == "move":
            log.warning(
                "leaving this cluster instance",
                extra=kv(into=d.into, target=d.target.node_id if d.target else None, why=d.reason),
            )
            await self.move(d, not young)
            return True
        if d.action == "report":
            await self._report(d)
        return False

    def _asked_to_rejoin(self) -> Merge | None:
        """An admin's ``POST /cluster/rejoin`` on this side, once its target is visible."""
        rec = self.store.get("meta", REJOIN_KEY)
        if rec is None:
            return None
        into = str(rec.value.get("into", ""))
        inst = instances(self.discovery.me, self.discovery.hosts()).get(into)
        if inst is None or not inst.hosts or into == self.discovery.me.cluster_id:
            return None
        why = f"an admin ({rec.value.get('by')}) asked this side to rejoin instance {into}"
        log.warning("leaving this cluster instance", extra=kv(into=into, why=why))
        return Merge("move", inst.entry(), into, why)

    async def _report(self, d: Merge) -> None:
        """Loud once: an ERROR line on every host, one event (committed by the leader)."""
        if d.into not in self._logged:
            self._logged.add(d.into)
            log.error("split brain needs an admin", extra=kv(into=d.into, why=d.reason))
        if d.into in self._emitted or not self.store.is_leader:
            return
        self._emitted.add(d.into)
        name = self.discovery.me.cluster_name
        msg = (
            f"SPLIT BRAIN: another cluster named {name!r} (instance {d.into}) is on this "
            f"network. {d.reason}. POST /api/v1/cluster/rejoin on the side that should give way."
        )
        with contextlib.suppress(StoreError):
            await emit(
                self.store,
                event_value(
                    "cluster.split_brain", "cluster", d.into, msg, node=self.node_id, level="error"
                ),
            )
