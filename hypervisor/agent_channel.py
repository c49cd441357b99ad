"""The host's end of one guest agent connection: libvirt's channel socket.

The domain's ``<channel type='unix'>`` (hypervisor/domxml.py) has QEMU listen on
``run_dir/<vm>/agent.sock``; we connect as its one client. ``AgentChannel``
sends requests and matches answers by id; it knows nothing of what the
requests mean (that is peer/agent).

A guest is not trusted. The channel closes itself, with a reason, on:
bytes that are not a frame after the first good one (before it, up to
SKIP_BUDGET bytes of an earlier session's leftovers are skipped), a frame
longer than ``max_payload``, half a frame left incomplete for
``partial_timeout_s``, or more than ``unsolicited_limit`` frames that answer
nothing within a minute (a few are normal: late answers to requests that
timed out). What it holds is bounded by one frame; nothing a guest sends reaches
anything but the one pending request it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any

from agent.frames import MAX_PAYLOAD, FrameError, FrameReader, encode
from agent.protocol import request
from hypervisor.errors import AgentNotConnected, AgentRefused, AgentTimeout

log = logging.getLogger(__name__)

SKIP_BUDGET = 64 * 1024
UNSOLICITED_WINDOW_S = 60.0
READ_CHUNK = 65536


class AgentChannel:
    def __init__(
        self,
        path: str,
        *,
        max_payload: int = MAX_PAYLOAD,
        partial_timeout_s: float = 10.0,
        unsolicited_limit: int = 32,
        label: str = "",
    ) -> None:
        self.path = path
        self.label = label or path
        self.max_payload = max_payload
        self.partial_timeout_s = partial_timeout_s
        self.unsolicited_limit = unsolicited_limit
        self.reason: str | None = None
        self.bytes_in = 0
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsolicited = 0
        self._window_start = time.monotonic()

    @property
    def open(self) -> bool:
        return self._writer is not None and self.reason is None

    async def connect(self, timeout: float = 5.0) -> None:
        """Connect to QEMU's socket (OSError/TimeoutError if it is not there)."""
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_unix_connection(self.path, limit=READ_CHUNK), timeout
        )
        self._task = asyncio.create_task(self._read_loop(), name=f"agent-read-{self.label}")

    async def request(self, op: str, args: dict[str, Any] | None, timeout: float) -> Any:
        """Send one request; its result, or AgentRefused/AgentTimeout/AgentNotConnected."""
        if not self.open or self._writer is None:
            raise AgentNotConnected(f"the agent channel is closed: {self.reason or 'not open'}")
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            self._writer.write(encode(request(rid, op, args)))
            await self._writer.drain()
            msg = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise AgentTimeout(f"the guest agent did not answer {op} in {timeout:g} s") from None
        except (ConnectionError, OSError) as e:
            await self.close(f"write failed: {e}")
            raise AgentNotConnected(f"the agent channel broke: {e}") from None
        finally:
            self._pending.pop(rid, None)
        if msg.get("ok") is True:
            return msg.get("result")
        raw = msg.get("error")
        err: dict[str, Any] = raw if isinstance(raw, dict) else {}
        code = str(err.get("code") or "error")[:64]
        message = str(err.get("message") or "the guest agent refused")[:1000]
        raise AgentRefused(f"the guest agent: {message}", agent_code=code)

    async def close(self, reason: str = "closed") -> None:
        if self.reason is None:
            self.reason = reason
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(AgentNotConnected(f"the agent channel closed: {self.reason}"))
        self._pending.clear()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_closed(self) -> str:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(self._task)
        return self.reason or "closed"

    async def _read_loop(self) -> None:
        assert self._reader is not None
        frames = FrameReader(self.max_payload, skip_budget=SKIP_BUDGET, strict_after_good=True)
        partial_since: float | None = None
        reason = "the guest side closed the socket"
        try:
            while True:
                timeout = None
                if partial_since is not None:
                    timeout = max(0.0, self.partial_timeout_s - (time.monotonic() - partial_since))
                try:
                    data = await asyncio.wait_for(self._reader.read(READ_CHUNK), timeout)
                except TimeoutError:
                    reason = (
                        f"half a frame ({frames.pending} bytes) left incomplete for "
                        f"{self.partial_timeout_s:g} s"
                    )
                    break
                if not data:
                    break
                self.bytes_in += len(data)
                for msg in frames.messages(data):
                    self._deliver(msg)
                partial_since = partial_since or time.monotonic() if frames.pending else None
        except FrameError as e:
            reason = f"bad frame: {e.reason}"
        except _Flood as e:
            reason = str(e)
        except (ConnectionError, OSError) as e:
            reason = f"read failed: {e}"
        if self.reason is None:
            log.warning("agent %s: closing the channel: %s", self.label, reason)
        await self.close(reason)

    def _deliver(self, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        fut = self._pending.get(rid) if isinstance(rid, int) and msg.get("t") == "res" else None
        if fut is None or fut.done():
            now = time.monotonic()
            if now - self._window_start > UNSOLICITED_WINDOW_S:
                self._window_start, self._unsolicited = now, 0
            self._unsolicited += 1
            if self._unsolicited > self.unsolicited_limit:
                raise _Flood(f"flood: {self._unsolicited} frames that answer no request")
            return
        fut.set_result(msg)


class _Flood(Exception):
    pass
