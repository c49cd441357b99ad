"""Mdns.async_announce returns once the first packet is out; the repeats go on in
the background and a newer announcement cancels an older one's repeats."""

from __future__ import annotations

import asyncio
from typing import Any

from discovery._zc import Mdns


class _FakeZeroconf:
    """zeroconf's contract: register/update return a task that sends 3 packets."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gap = asyncio.Event()  # released by the test: the repeats' interval

    async def _broadcast(self, label: str) -> None:
        for i in range(3):
            if i:
                await self.gap.wait()
            self.sent.append(label)

    async def async_register_service(self, info: Any, **_: Any) -> asyncio.Future[None]:
        return asyncio.ensure_future(self._broadcast(info.properties[b"v"].decode()))

    async def async_update_service(self, info: Any) -> asyncio.Future[None]:
        return asyncio.ensure_future(self._broadcast(info.properties[b"v"].decode()))


def _mdns(fake: _FakeZeroconf) -> Mdns:
    m = Mdns("10.0.0.1", 15)
    m._zc = lambda: fake  # type: ignore[assignment,method-assign,return-value]
    return m


async def test_announce_returns_after_the_first_packet() -> None:
    fake = _FakeZeroconf()
    m = _mdns(fake)
    await asyncio.wait_for(m.async_announce("n1", 8443, b"\x03v=a"), 1.0)
    assert fake.sent == ["a"]  # on the wire before announce returned; repeats pending
    fake.gap.set()
    assert m._repeats is not None
    await m._repeats
    assert fake.sent == ["a", "a", "a"]


async def test_a_newer_announcement_cancels_the_older_repeats() -> None:
    fake = _FakeZeroconf()
    m = _mdns(fake)
    await m.async_announce("n1", 8443, b"\x03v=a")
    await m.async_announce("n1", 8443, b"\x03v=b")
    fake.gap.set()
    assert m._repeats is not None
    await m._repeats
    assert fake.sent == ["a", "b", "b", "b"]  # never a stale "a" after "b"
