"""Lease renewal, self-fencing and the watchdog feeder."""

import asyncio
import logging
import secrets
import time

from peer.ha.lease import LeaseRenewer
from peer.ha.watchdog import Watchdog
from tests.peer.ha.fakes import Clock, FlakyStore, fake_guest
from tests.util import async_wait_for


def renewer(store, calls, mono, wall=None, **kw):
    return LeaseRenewer(
        store,
        "h1",
        heartbeat=1.0,
        fence_after=6.0,
        on_fence=lambda: calls.append("fence"),
        on_unfence=lambda: calls.append("unfence"),
        wall=wall or Clock(1000.0),
        mono=mono,
        **kw,
    )


async def test_renewal_commits_the_lease_with_its_time():
    store, calls, wall = FlakyStore("h1"), [], Clock(1234.5)
    r = renewer(store, calls, Clock(0.0), wall)
    assert await r.tick() and r.renewed.is_set()
    assert store.get("leases", "h1").value == {"renewed_at": 1234.5, "fenced": False}


async def test_fences_once_after_fence_after_without_a_commit_then_recovers():
    store, calls, mono = FlakyStore("h1"), [], Clock(0.0)
    r = renewer(store, calls, mono)
    assert await r.tick()
    store.down = True
    for t in (1.0, 3.0, 5.9):
        mono.t = t
        assert not await r.tick()
    assert calls == [] and not r.fenced
    mono.t = 6.0
    await r.tick()
    mono.t = 7.0
    await r.tick()
    assert calls == ["fence"] and r.fenced
    # Back in the majority: the renewal that commits ends the fence and says so
    # (a record saying "fenced" would keep the reconciler from starting anything).
    store.down = False
    mono.t = 8.0
    assert await r.tick()
    assert store.get("leases", "h1").value["fenced"] is False
    assert calls == ["fence", "unfence"] and not r.fenced


async def test_fence_is_timed_from_when_the_last_good_renewal_was_sent():
    store, calls, mono = FlakyStore("h1"), [], Clock(0.0)
    store.on_commit = lambda cmd: mono.advance(3.0)  # a slow commit: acked at t=3
    r = renewer(store, calls, mono)
    assert await r.tick()
    store.down, store.on_commit = True, None
    mono.t = 6.0  # only 3 s since the ack, but 6 s since the send
    await r.tick()
    assert calls == ["fence"]


async def test_woken_too_late_it_fences_before_renewing():
    store, calls, mono = FlakyStore("h1"), [], Clock(0.0)
    r = renewer(store, calls, mono)
    await r.tick()
    mono.t = 30.0  # the process was suspended; the store works again
    assert await r.tick()
    assert calls == ["fence", "unfence"]


async def test_a_hanging_commit_does_not_delay_the_fence():
    store, fenced = FlakyStore("h1"), asyncio.Event()
    r = LeaseRenewer(
        store, "h1", heartbeat=0.1, fence_after=0.4, on_fence=fenced.set, mono=time.monotonic
    )
    start = time.monotonic()
    store.hang = True
    task = asyncio.create_task(r.run())
    try:
        await asyncio.wait_for(fenced.wait(), 5.0)
        assert time.monotonic() - start >= 0.4
    finally:
        r.stop()
        await asyncio.wait_for(task, 5.0)


async def test_run_renews_every_heartbeat_until_stopped():
    store = FlakyStore("h1")
    r = LeaseRenewer(store, "h1", heartbeat=0.02, fence_after=1.0, on_fence=lambda: None)
    task = asyncio.create_task(r.run())
    await async_wait_for(lambda: store.commits >= 3, 5.0)
    r.stop()
    await asyncio.wait_for(task, 5.0)
    assert not r.fenced


async def test_a_failing_fence_callback_still_leaves_the_peer_fenced(caplog):
    store, mono = FlakyStore("h1"), Clock(0.0)

    def boom():
        raise RuntimeError("driver gone")

    r = LeaseRenewer(store, "h1", heartbeat=1, fence_after=6, on_fence=boom, mono=mono)
    store.down = True
    mono.t = 7.0
    with caplog.at_level(logging.ERROR):
        await r.tick()
    assert r.fenced and "fence callback failed" in caplog.text


def test_watchdog_is_fed_until_stopped_and_disarmed_only_by_close(tmp_path):
    dev = tmp_path / "watchdog"
    dev.write_bytes(b"")
    wd = Watchdog(True, dev)
    wd.open()
    assert wd.armed
    wd.feed()
    wd.feed()
    wd.stop()
    wd.feed()
    wd.close()  # after a fence, close must not disarm
    assert dev.read_bytes() == b"\0\0"
    other = tmp_path / "watchdog2"
    other.write_bytes(b"")
    wd2 = Watchdog(True, other)
    wd2.open()
    wd2.feed()
    wd2.close()  # orderly shutdown: the magic close disarms
    assert other.read_bytes() == b"\0V"


def test_disabled_watchdog_is_a_logged_no_op(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        wd = Watchdog.from_config(object())
        wd.open()
        wd.feed()
        wd.stop()
    assert not wd.armed and "watchdog disabled" in caplog.text


async def test_with_plug_the_fence_kills_the_hosts_guests_before_on_fence():
    vm = "plugfence" + secrets.token_hex(4)
    store, mono = FlakyStore("h1"), Clock(0.0)
    await store.put("vms", vm, {"name": vm, "placement": "h1", "placement_epoch": 1})
    p = fake_guest(vm)
    seen = []
    try:
        r = LeaseRenewer(
            store,
            "h1",
            heartbeat=1,
            fence_after=6,
            mono=mono,
            plug=True,
            on_fence=lambda: seen.append(p.poll()),
        )
        store.down = True
        mono.t = 7.0
        await r.tick()
        assert r.fenced and p.wait(10) == -9 and len(seen) == 1
    finally:
        p.kill()
        p.wait()
