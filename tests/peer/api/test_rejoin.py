"""POST /cluster/rejoin: an admin settles a split brain by making this side rejoin
the other instance of its name (peer/heal.py then moves every host of it)."""

from __future__ import annotations

from typing import Any

from discovery.bootstrap import Merge, merge
from discovery.model import Announcement, SeenHost
from peer.heal import REJOIN_KEY
from raft.store import put
from tests.peer.api.conftest import bearer


class Seen:
    """What ``Discovery`` answers that the route reads: this host and the table."""

    def __init__(self, cid: str, others: list[SeenHost]) -> None:
        self.me = Announcement("n1", "prod", 8443, 8444, "1", "leader", cid)
        self._others = others

    def hosts(self) -> list[SeenHost]:
        return self._others

    def merge(self, running: int) -> Merge:
        return merge(self.me, self._others, running_vms=running)


def other(cid: str) -> SeenHost:
    a = Announcement("z9", "prod", 8443, 8444, "1", "leader", cid)
    return SeenHost(a, "10.0.0.9", 0.0, 0.0)


async def test_rejoin_commits_the_request_for_every_host_of_this_side(
    client: Any, ctx: Any, store: Any, tokens: dict[str, str]
) -> None:
    ctx.services["discovery"] = Seen("c1", [other("c2")])
    r = await client.post("/api/v1/cluster/rejoin", json={"cluster_id": "c2"},
                          headers=bearer(tokens["admin"]))  # fmt: skip
    assert r.status == 202, await r.text()
    rec = store.get("meta", REJOIN_KEY)
    assert rec is not None and rec.value["into"] == "c2" and rec.value["by"] == "admin"


async def test_rejoin_is_refused_clearly(
    client: Any, ctx: Any, store: Any, tokens: dict[str, str]
) -> None:
    ctx.services["discovery"] = Seen("c1", [other("c2")])
    h = bearer(tokens["admin"])
    cases = [({"cluster_id": "c1"}, 400, "same_instance"),
             ({"cluster_id": "c7"}, 404, "instance_not_found")]  # fmt: skip
    for body, status, code in cases:
        r = await client.post("/api/v1/cluster/rejoin", json=body, headers=h)
        assert r.status == status and (await r.json())["code"] == code
    await store.commit([put("vm_status", "v1", {"state": "running"})])
    r = await client.post("/api/v1/cluster/rejoin", json={"cluster_id": "c2"}, headers=h)
    assert r.status == 409 and (await r.json())["code"] == "vms_running"
    r = await client.post("/api/v1/cluster/rejoin", json={"cluster_id": "c2"},
                          headers=bearer(tokens["operator"]))  # fmt: skip
    assert r.status == 403
    assert store.get("meta", REJOIN_KEY) is None
