"""Cluster formation: from "I know a cluster name and secret" to member.

Each pass asks the bootstrap rule (discovery/bootstrap.py) what to do with the
hosts mDNS shows: wait, bootstrap a new cluster, or join an existing one through
the authenticated handshake (peer/join.py). Seeds from node.yaml are tried too,
for networks where multicast does not pass. A refusal (wrong secret) is kept in
the status and retried slowly: the admin may fix the secret on the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any, Protocol

from discovery.bootstrap import Decision
from discovery.bootstrap import new_cluster_id as _ordered_id
from discovery.handshake import derive_key
from peer import __version__
from peer.join import JoinRefused, request_join
from peer.logs import kv

log = logging.getLogger("peer.formation")

RETRY_AFTER_REFUSAL = 3.0
# A member that is still starting answers 503: it will be ready in a moment.
RETRY_WHILE_STARTING = 0.3
# Longest wait between two passes of the bootstrap rule when mDNS shows no change.
POLL = 0.25


def new_cluster_id() -> str:
    """Time-ordered (the merge rule lets the younger of two young instances give way)."""
    return _ordered_id(time.time(), secrets.token_hex(4))


class _Peer(Protocol):
    config: Any
    ctx: Any
    discovery: Any

    async def become_member(
        self,
        cluster_name: str,
        cluster_id: str,
        secret: str,
        *,
        voters: list[str],
        voter: bool,
        bootstrap: bool,
    ) -> None: ...


class Formation:
    def __init__(
        self, peer: _Peer, cluster_name: str, secret: str, pins: dict[str, str] | None = None
    ) -> None:
        self.peer = peer
        # node id -> certificate SHA-256 it must show (an adopted host's sponsor).
        self.pins = dict(pins or {})
        self._kdf: asyncio.Future[bytes] | None = None
        self.cluster_name = cluster_name
        self.secret = secret
        self.started = time.time()
        self.decision: Decision | None = None
        self.error: str | None = None
        self.done = False
        self._changed = asyncio.Event()

    def status(self) -> dict[str, Any]:
        d = self.decision
        return {
            "done": self.done,
            "action": d.action if d else None,
            "reason": d.reason if d else None,
            "target": d.target.node_id if d and d.target else None,
            "join_error": self.error,
        }

    def _host(self) -> dict[str, Any]:
        cfg = self.peer.config
        return {
            "hostname": self.peer.ctx.hostname[:63],
            "address": self.peer.ctx.address,
            "api_port": cfg.api_port,
            "raft_port": cfg.raft_port,
            "version": __version__,
        }

    async def run(self) -> None:
        disc = self.peer.discovery
        # The join key's KDF (a fraction of a second) during the settle window, not on the
        # critical path of the join that follows it.
        self._kdf = asyncio.ensure_future(
            asyncio.to_thread(derive_key, self.secret, self.cluster_name)
        )
        unsubscribe = disc.subscribe(lambda *_: self._changed.set())
        try:
            while not self.done:
                self._changed.clear()
                if await self._try_seeds():
                    break
                d = disc.decide(self.peer.config.settle_window)
                if d != self.decision:
                    log.info("formation", extra=kv(action=d.action, reason=d.reason))
                self.decision = d
                if d.action == "bootstrap":
                    cluster_id = new_cluster_id()
                    # Claim the name on the LAN before the slow part (Raft start,
                    # first commits): a host that settles meanwhile sees a member
                    # of this cluster and joins it instead of bootstrapping too.
                    await disc.async_update(cluster_id=cluster_id, role="member", young=True)
                    await self.peer.become_member(
                        self.cluster_name,
                        cluster_id,
                        self.secret,
                        voters=[],
                        voter=True,
                        bootstrap=True,
                    )
                    self.done = True
                elif d.action == "join" and d.target is not None:
                    if await self._join(d.target.api_url, self.pins.get(d.target.node_id)):
                        break
                    if "HTTP 503" in (self.error or ""):
                        # The member is still starting: it announces "leader" once it
                        # answers joins, which wakes us; the timeout is the fallback.
                        await self._wait_change(RETRY_WHILE_STARTING)
                    else:
                        await asyncio.sleep(RETRY_AFTER_REFUSAL)
                else:
                    # Wake at the end of the settle window, not up to a poll later:
                    # that moment is on the critical path of forming a cluster.
                    settle = disc.settle_remaining(self.peer.config.settle_window)
                    await self._wait_change(min(POLL, settle + 0.005) if settle > 0 else POLL)
        finally:
            unsubscribe()
            await self._kdf

    async def _wait_change(self, timeout: float) -> None:
        """Until mDNS shows a change (a new host, a role) or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _try_seeds(self) -> bool:
        for seed in self.peer.config.seeds:
            if await self._join(f"https://{seed}"):
                return True
        return False

    async def key_ready(self) -> None:
        """The join key's KDF, started with the settle window, has finished (so
        its cache holds the key: nobody computes it a second time meanwhile)."""
        if self._kdf is not None:
            await self._kdf

    async def _join(self, api_url: str, expect_fp: str | None = None) -> bool:
        # The one KDF started with the settle window, not a second one racing it.
        await self.key_ready()
        try:
            adm = await request_join(
                api_url,
                self.cluster_name,
                self.secret,
                self.peer.ctx.node_id,
                self._host(),
                expect_fp=expect_fp,
            )
        except JoinRefused as e:
            if e.reason != self.error:
                log.warning("join refused", extra=kv(url=api_url, reason=e.reason))
            self.error = e.reason
            return False
        self.error = None
        await self.peer.become_member(
            self.cluster_name,
            str(adm["cluster_id"]),
            self.secret,
            voters=[str(v) for v in adm["voters"]],
            voter=False,
            bootstrap=False,
        )
        self.done = True
        return True
