"""Discovery's API contract without a network: misuse fails loudly and early."""

from __future__ import annotations

import asyncio

import pytest

from discovery import Announcement, Discovery, DiscoveryError, MdnsError


def me() -> Announcement:
    return Announcement(node_id="n1", cluster_name="prod", api_port=8443, raft_port=8444,
                        version="1", role="joining")  # fmt: skip


def test_needs_an_address_or_an_interface() -> None:
    with pytest.raises(MdnsError):
        Discovery(me(), None)


def test_sync_calls_before_start_fail() -> None:
    d = Discovery(me(), "10.0.0.2")
    with pytest.raises(DiscoveryError, match="not started"):
        d.update(role="member", cluster_id="c1")
    d.stop()  # never started: nothing to do


def test_update_validates_before_announcing() -> None:
    d = Discovery(me(), "10.0.0.2")

    async def bad() -> None:
        await d.async_update(role="member")  # a member without a cluster id

    with pytest.raises(DiscoveryError):
        asyncio.run(bad())
    assert d.me.role == "joining"


async def test_sync_wrapper_on_the_event_loop_refuses_instead_of_deadlocking() -> None:
    d = Discovery(me(), "10.0.0.2")
    d._loop = asyncio.get_running_loop()  # as if async_start had run here
    with pytest.raises(DiscoveryError, match="async_"):
        d.update(role="leader", cluster_id="c1")


def test_decide_and_status_work_on_an_empty_table() -> None:
    d = Discovery(me(), "10.0.0.2")
    assert d.decide(settle_window=2.0).action == "wait"
    st = d.status()["discovery"]
    assert st["seen"] == [] and st["split_brain"] == [] and st["announcing"] == "joining"
