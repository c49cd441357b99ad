"""The host's channel against a hostile guest: each attack closes that one
connection with a reason, while another guest's channel keeps answering.

The "guest" here is a unix socket server playing QEMU's end of the channel
(the real one needs a TCG guest: tests/agent/test_guest_tcg.py)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import pytest

from agent.frames import HEADER, MAGIC, FrameReader, encode
from agent.protocol import ok
from hypervisor.agent_channel import AgentChannel
from hypervisor.errors import AgentNotConnected, AgentTimeout


async def _echo_guest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A well-behaved agent: answers every request with its op."""
    frames = FrameReader()
    while data := await reader.read(65536):
        for msg in frames.feed(data):
            writer.write(encode(ok(msg["id"], {"op": msg["op"]})))
    writer.close()


def _hostile(payload: bytes, then_wait: bool = True):
    async def guest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # the host's first request
        writer.write(encode(ok(1, {"op": "hello"})))  # one good frame first
        await writer.drain()
        writer.write(payload)
        await writer.drain()
        if then_wait:
            await asyncio.sleep(30)
        writer.close()

    return guest


def _flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    async def go() -> None:
        await reader.read(65536)
        writer.write(encode(ok(1, {"op": "hello"})))
        for i in range(1000):
            writer.write(encode(ok(10_000 + i, {"spam": "x" * 100})))
        await writer.drain()
        await asyncio.sleep(30)

    return go()


ATTACKS = {
    "garbage": (_hostile(b"\x00garbage" * 100), "bad frame"),
    "oversized": (_hostile(HEADER.pack(MAGIC, 1, 2**31, 0)), "exceeds"),
    "half_frame": (_hostile(encode({"t": "res", "id": 2, "ok": True})[:15]), "half a frame"),
    "flood": (_flood, "flood"),
    "bad_version": (_hostile(HEADER.pack(MAGIC, 9, 1, 0) + b"\x80"), "frame version"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_hostile_guest_closes_only_its_channel(attack):
    handler, reason = ATTACKS[attack]
    with tempfile.TemporaryDirectory(prefix="qxag") as d:
        bad_path, good_path = str(Path(d) / "bad.sock"), str(Path(d) / "good.sock")
        bad_srv = await asyncio.start_unix_server(handler, bad_path)
        good_srv = await asyncio.start_unix_server(_echo_guest, good_path)
        bad = AgentChannel(bad_path, partial_timeout_s=0.5, label="bad")
        good = AgentChannel(good_path, label="good")
        try:
            await bad.connect()
            await good.connect()
            assert await bad.request("hello", {}, 5) == {"op": "hello"}
            reason_got = await asyncio.wait_for(bad.wait_closed(), 10)
            assert reason in reason_got
            assert not bad.open
            with pytest.raises(AgentNotConnected):
                await bad.request("ping", {}, 1)
            # The other guest's channel, on the same loop, is unaffected.
            for _ in range(3):
                assert await good.request("ping", {}, 5) == {"op": "ping"}
        finally:
            await bad.close()
            await good.close()
            for srv in (bad_srv, good_srv):
                srv.close()
                with contextlib.suppress(Exception):
                    await srv.wait_closed()


async def test_silent_guest_times_out_and_leftovers_before_the_first_frame_are_skipped():
    async def late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # ignore the first request (no agent yet)
        data = await reader.read(65536)
        msg = FrameReader().feed(data)[0]
        # Half a frame of an earlier session, then the answer: skipped, then read.
        writer.write(encode(ok(999, {}))[:9] + encode(ok(msg["id"], {"late": True})))
        await writer.drain()
        await asyncio.sleep(5)

    with tempfile.TemporaryDirectory(prefix="qxag") as d:
        path = str(Path(d) / "g.sock")
        srv = await asyncio.start_unix_server(late, path)
        ch = AgentChannel(path)
        try:
            await ch.connect()
            with pytest.raises(AgentTimeout):
                await ch.request("hello", {}, 0.3)
            assert await ch.request("hello", {}, 5) == {"late": True}
        finally:
            await ch.close()
            srv.close()
