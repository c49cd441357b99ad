"""A host leaves its cluster (``POST /nodes/<id>/leave``, what the console's F4 →
L calls): its VMs are moved to the other hosts first, it is removed from the
cluster, and it comes back in factory state, waiting to be adopted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chaos.lab import Lab
from tests.labs import short_lab
from tests.peer.test_ha_lab import api, running_on, up_with_voters
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("l") as lab:
        yield lab


def test_a_host_leaves_for_factory_state_after_its_vms_moved_off(lab: Lab) -> None:
    hosts, by_node = up_with_voters(lab, 3)
    leader_id = str(wait_for(lambda: api(hosts[0]).get("/cluster")["leader"], 30, "a leader"))
    ids = []
    for i in range(3):
        spec = {"name": f"v{i}", "vcpus": 1, "memory_mib": 64, "desired": "running"}
        status, body = api(hosts[0]).post("/vms", spec)
        assert status == 201, body
        ids.append(body["id"])
    wait_for(lambda: all(running_on(hosts[0], v) for v in ids), 120, "the VMs running")
    # The leader leaves (the hardest case: it must hand leadership over first),
    # asked through its own API, as its console does.
    leaver = by_node[leader_id]
    stay = [h for h in hosts if h is not leaver]
    mine = [v for v in ids if api(stay[0]).get(f"/vms/{v}")["placement"] == leader_id]
    status, body = api(leaver).post(f"/nodes/{leader_id}/leave")
    assert status == 202 and body["leaving"] is True, body

    def factory() -> bool:
        peer: dict[str, Any] = api(leaver).get("/peer")
        return peer.get("cluster_name") is None and peer["raft"]["role"] == "factory"

    def why() -> str:
        lines = leaver.log.read_text(errors="replace").splitlines()
        return "\n".join(ln for ln in lines if "leav" in ln or "factory" in ln or "error" in ln)[
            -3000:
        ]

    wait_for(factory, 180, "the host to be back in factory state", explain=why)
    via = stay[0]
    node = api(via).get(f"/nodes/{leader_id}")
    assert node["state"] == "removed"
    cluster = api(via).get("/cluster")
    assert cluster["leader"] in {n for n, h in by_node.items() if h is not leaver}
    voters = {m["node_id"] for m in cluster["members"] if m["voter"]}
    assert leader_id not in voters
    # Every VM runs on a host still in the cluster, the moved ones included.
    wait_for(lambda: all(running_on(via, v) not in (None, leader_id) for v in ids), 120, "VMs")
    assert mine, "the leaver had no VM: nothing was moved"
    events = api(via).get("/events?kind=node.leaving&limit=100")["items"]
    assert [e for e in events if e["resource_id"] == leader_id]
