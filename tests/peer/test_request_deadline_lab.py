"""A write its client gave up on is not done behind the client's back.

The leader is cut off while a client PATCHes a VM through it with
``X-Request-Timeout: 2`` and gives up; the majority elects another leader and
acknowledges a newer value; the network heals a few seconds later. The old
leader must not commit the abandoned PATCH over the newer value: it used to keep
resubmitting for its own 5 s, lose the compare-and-set to the newer value after
the heal, and retry it on the fresh record (up to 8 times).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from chaos.faults.net import Partition
from chaos.lab import Lab
from tests.labs import host_api, short_lab
from tests.peer.test_ha_lab import api, up_with_voters
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

CLIENT_TIMEOUT = 2.0
# How long the old server-side retries could run (8 compare-and-set attempts).
WATCH_S = 12.0


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("d") as lab:
        yield lab


def test_an_abandoned_write_is_not_committed_over_a_newer_one(lab: Lab) -> None:
    hosts, by_node = up_with_voters(lab, 3)
    leader_id = str(api(hosts[0]).get("/cluster")["leader"])
    old = by_node[leader_id]
    others = [h for h in hosts if h is not old]
    status, body = api(others[0]).post(
        "/vms", {"name": "reg", "vcpus": 1, "memory_mib": 64, "desired": "stopped"}
    )
    assert status == 201, body
    vm = body["id"]
    abandoned: dict[str, object] = {}

    def stale_patch() -> None:
        client = host_api(old, timeout=CLIENT_TIMEOUT)
        try:
            abandoned["reply"] = client.call(
                "PATCH",
                f"/vms/{vm}",
                {"description": "stale"},
                headers={"X-Request-Timeout": str(CLIENT_TIMEOUT)},
            )
        except OSError as e:  # the client's timeout: it gives up
            abandoned["reply"] = repr(e)

    writer = threading.Thread(target=stale_patch, daemon=True)
    with Partition(lab, [[h.name for h in others], [old.name]]):
        writer.start()

        def new_leader() -> bool:
            return api(others[0]).get("/cluster")["leader"] not in (None, leader_id)

        wait_for(new_leader, 60, "the majority to elect another leader")

        def newer() -> bool:
            st, _ = api(others[0]).call("PATCH", f"/vms/{vm}", {"description": "newer"})
            return st == 200

        wait_for(newer, 30, "the newer write to be acknowledged")
        writer.join(CLIENT_TIMEOUT + 5)  # the client gives up (the leader is cut off)
    # Healed just after the client gave up (the old server-side commit ran on for
    # its own 5 s): the old leader hears the others again.
    assert isinstance(abandoned["reply"], str), abandoned  # no answer while cut off
    until = time.monotonic() + WATCH_S
    seen = []
    while time.monotonic() < until:  # an observation window: nothing may change
        rec = api(others[1]).get(f"/vms/{vm}?consistent=true")
        seen.append(rec.get("description"))
        time.sleep(0.5)
    print(f"abandoned PATCH: {abandoned}; descriptions seen after the heal: {set(seen)}")
    assert set(seen) == {"newer"}, seen
