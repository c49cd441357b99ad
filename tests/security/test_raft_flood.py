"""Hole 4: a stranger on the LAN cannot stall the Raft port. It streams a frame
announcing 2 GiB (and holds idle connections) at a lone voter's Raft port; the
host's lease renewals — Raft commits on the same tick thread — go on, and it
never fences (which would stop its HA VMs)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from chaos.lab import Host, Lab
from tests.labs import host_api, short_lab
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

FLOOD_BYTES = 512 * 1024 * 1024
FLOOD_SECONDS = 12.0


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("f") as lab:
        yield lab


def lease_age(h: Host, node_id: str) -> float | None:
    members = host_api(h, timeout=2).get("/cluster")["members"]
    me = next(m for m in members if m["node_id"] == node_id)
    return me["lease_age_s"]


class Flood:
    """One connection streaming a huge frame; ``idle`` more that never speak."""

    def __init__(self, addr: tuple[str, int], idle: int) -> None:
        self.addr, self.idle = addr, idle
        self.sent = 0
        self.cut_off = False  # the server closed the streaming connection
        self.idle_closed = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._stream, self._hold)]

    def __enter__(self) -> Flood:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _stream(self) -> None:
        chunk = bytes(1024 * 1024)
        deadline = time.monotonic() + FLOOD_SECONDS
        with socket.create_connection(self.addr, timeout=5) as s:
            try:
                s.sendall(struct.pack("i", 2**31 - 1))
                while self.sent < FLOOD_BYTES and time.monotonic() < deadline:
                    if self.stop.is_set():
                        return
                    s.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                self.cut_off = True

    def _hold(self) -> None:
        socks = [socket.create_connection(self.addr, timeout=5) for _ in range(self.idle)]
        try:
            deadline = time.monotonic() + FLOOD_SECONDS
            for s in socks:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    if s.recv(1) == b"":
                        self.idle_closed += 1
                except (TimeoutError, OSError) as e:
                    if not isinstance(e, TimeoutError):
                        self.idle_closed += 1
        finally:
            for s in socks:
                s.close()


def test_a_stranger_streaming_a_huge_frame_does_not_stall_lease_renewals(lab: Lab) -> None:
    (h,) = lab.up(1)
    node_id = wait_for(lambda: host_api(h).get("/peer")["node_id"], 60, "the peer")
    wait_for(lambda: lease_age(h, node_id) is not None, 60, "the first lease renewal")
    fence_after = 6.0  # node.yaml's default, which the lab keeps
    raft_port = int(host_api(h).get("/peer")["raft_port"])
    ages: list[float] = []
    with Flood((h.address, raft_port), idle=40) as flood:
        end = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < end:
            try:
                age = lease_age(h, node_id)
            except Exception:  # the API stalled too: as bad as a stale lease
                age = float("inf")
            ages.append(age if age is not None else float("inf"))
            time.sleep(0.25)  # a sampling interval, not a wait for anything
    lease = host_api(h).get("/cluster")
    assert not any(m.get("state") == "fenced" for m in lease["members"])
    # The renewals went on: the lease never reached fence_after (on the parent
    # commit it went stale for 11.9 s). Not a tighter bound: on a loaded shared
    # machine an unattacked lone voter's lease is now and then 2-3 s old.
    assert max(ages) < fence_after, (max(ages), flood.sent)
    log = (h.dir / "peer.log").read_text(errors="replace")
    assert "fencing: could not renew the lease" not in log
    # The mechanism: the huge frame was refused long before 2 GiB, and the idle
    # connections were closed (too many, or not authenticated in time).
    assert flood.cut_off and flood.sent < FLOOD_BYTES, flood.sent
    assert flood.idle_closed == 40
