"""One running VM's agent session: connect, handshake, heartbeat, refresh.

Runs until stopped, reconnecting with a backoff whenever the channel closes (the
guest rebooted, the agent restarted, or the channel closed itself on a hostile
guest: hypervisor.agent_channel). ``record()`` is what goes into
``vm_status.agent``; ``on_change`` is called whenever it may have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from agent.protocol import PROTOCOL_VERSIONS
from hypervisor.agent_channel import AgentChannel
from hypervisor.errors import (
    AgentNotConnected,
    AgentRefused,
    AgentTimeout,
    AgentUnsupported,
    HypervisorError,
)
from peer.agent.status import from_session

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 3.0
HELLO_EAGER_FOR_S = 180.0
HELLO_EAGER_GAP_S = 0.5
HELLO_LATER_GAP_S = 15.0
HEARTBEAT_S = 10.0
MISSED_BEATS = 2
# Often right after the agent appears (DHCP may still be going), then rarely.
INFO_EARLY_S = 3.0
INFO_EARLY_FOR_S = 120.0
INFO_S = 30.0
RECONNECT_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class AgentSession:
    def __init__(self, vm_id: str, socket: str, on_change: Callable[[str], None]) -> None:
        self.vm_id = vm_id
        self.socket = socket
        self.on_change = on_change
        self.hello: dict[str, Any] | None = None
        self.info: dict[str, Any] | None = None
        self.reason: str | None = "connecting"
        self.connected_at: float | None = None  # monotonic
        self.rtt_ms: float | None = None
        self.channel: AgentChannel | None = None
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    def record(self) -> dict[str, Any]:
        return from_session(self.socket, self.hello, self.info, self.reason)

    @property
    def connected(self) -> bool:
        return self.hello is not None and self.channel is not None and self.channel.open

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"agent-{self.vm_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.channel is not None:
            await self.channel.close("stopped")

    async def call(self, op: str, args: dict[str, Any] | None, timeout: float) -> Any:
        if not self.connected or self.channel is None or self.hello is None:
            raise AgentNotConnected(
                f"the guest agent of VM {self.vm_id} is not connected"
                + (f" ({self.reason})" if self.reason else "")
            )
        if op not in (self.hello.get("capabilities") or []):
            raise AgentUnsupported(f"the guest agent of VM {self.vm_id} cannot {op}")
        return await self.channel.request(op, args, timeout)

    # -- the loop ---------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("agent session of %s failed", self.vm_id)
            was = self.hello is not None
            self.hello = None
            self.connected_at = None
            if was:
                self.on_change(self.vm_id)
            delay = RECONNECT_S[min(self._failures, len(RECONNECT_S) - 1)]
            self._failures += 1
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        ch = AgentChannel(self.socket, label=self.vm_id)
        try:
            await ch.connect()
        except (OSError, TimeoutError) as e:
            self._set_reason(f"no channel socket: {getattr(e, 'strerror', None) or e}")
            return
        self.channel = ch
        try:
            if not await self._handshake(ch):
                return
            self._failures = 0
            await self._serve(ch)
        finally:
            await ch.close(ch.reason or "session ended")
            self._set_reason(f"channel closed: {ch.reason}")

    async def _handshake(self, ch: AgentChannel) -> bool:
        waited = 0
        while ch.open:
            try:
                hello = await ch.request(
                    "hello", {"versions": list(PROTOCOL_VERSIONS)}, HELLO_TIMEOUT_S
                )
            except AgentTimeout:
                waited += 1
                self._set_reason("no agent answers in the guest")
                # No agent yet (a booting guest): ask again soon, so its report
                # follows its start within seconds; after a while, rarely.
                early = waited * HELLO_TIMEOUT_S < HELLO_EAGER_FOR_S
                await asyncio.sleep(HELLO_EAGER_GAP_S if early else HELLO_LATER_GAP_S)
                continue
            except AgentRefused as e:
                self._set_reason(f"handshake refused: {e.message}")
                await ch.close(self.reason or "refused")
                return False
            except AgentNotConnected:
                return False
            if not isinstance(hello, dict):
                await ch.close("the hello answer is not a map")
                return False
            self.hello = hello
            self.reason = None
            self.connected_at = time.monotonic()
            log.info(
                "agent %s connected: version %s, protocol %s",
                self.vm_id,
                str(hello.get("agent_version"))[:32],
                hello.get("protocol"),
            )
            # A new session follows a boot, a migration or a restart of this
            # peer: the guest's clock may be off by the time it was away.
            await self.sync_time()
            await self._refresh()
            return True
        return False

    async def _serve(self, ch: AgentChannel) -> None:
        missed = 0
        next_info = time.monotonic()
        while ch.open:
            await asyncio.sleep(HEARTBEAT_S if self._settled() else INFO_EARLY_S)
            now = time.monotonic()
            if now >= next_info:
                await self._refresh()
                next_info = now + (INFO_S if self._settled() else INFO_EARLY_S)
                continue
            try:
                t0 = time.monotonic()
                await ch.request("ping", {}, HEARTBEAT_S)
                self.rtt_ms = (time.monotonic() - t0) * 1000
                missed = 0
            except AgentTimeout:
                missed += 1
                if missed >= MISSED_BEATS:
                    await ch.close(f"no heartbeat answer {missed} times")
            except HypervisorError:
                return

    def _settled(self) -> bool:
        return (
            self.connected_at is not None
            and time.monotonic() - self.connected_at > INFO_EARLY_FOR_S
        )

    async def _refresh(self) -> None:
        try:
            info = await self.call("info", {}, 10.0)
        except HypervisorError as e:
            log.info("agent %s: info failed: %s", self.vm_id, e.message)
            return
        if isinstance(info, dict):
            self.info = info
            self.on_change(self.vm_id)

    async def sync_time(self) -> float | None:
        """Step the guest's clock to ours; the step in seconds (None: not done)."""
        try:
            res = await self.call("set_time", {"time": time.time()}, 10.0)
        except HypervisorError as e:
            log.info("agent %s: time sync failed: %s", self.vm_id, e.message)
            return None
        step = res.get("step_s") if isinstance(res, dict) else None
        return float(step) if isinstance(step, (int, float)) else None

    def _set_reason(self, reason: str) -> None:
        if reason != self.reason:
            self.reason = reason
            self.on_change(self.vm_id)
