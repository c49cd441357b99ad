"""Split-brain healing on a member: what counts as young, and what the healer does
with what mDNS shows (a real in-process store; discovery replaced by a table)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from discovery.bootstrap import Merge, joined_instance_lost, merge
from discovery.model import Announcement, SeenHost
from peer.auth.audit import audit_ops, audit_value
from peer.heal import REJOIN_KEY, SplitHealer, is_young, running_vms
from raft.store import LocalStore, put


def ann(node: str, cid: str = "", role: str = "member", young: bool = False) -> Announcement:
    return Announcement(node, "prod", 8443, 8444, "1", role, cid, young=young)  # type: ignore[arg-type]


def seen(node: str, cid: str, role: str = "member", young: bool = False) -> SeenHost:
    return SeenHost(ann(node, cid, role, young), "10.0.0.9", 0.0, 0.0)


async def formed_store() -> LocalStore:
    """What formation leaves: meta/cluster, the initial admin, nodes, a join's audit."""
    s = LocalStore("n1")
    await s.commit([put("meta", "cluster", {"name": "prod", "id": "c1"})])
    await s.commit([put("users", "admin", {"role": "admin", "password_hash": "x"})])
    await s.commit([put("nodes", "n1", {"state": "active"}), put("leases", "n1", {"t": 1})])
    await s.commit(audit_ops(s, audit_value("-", "POST /cluster/join/prove", "n2", None, "ok")))
    return s


async def test_a_formed_cluster_is_young_until_a_user_does_something() -> None:
    s = await formed_store()
    assert is_young(s) and running_vms(s) == 0
    await s.commit(audit_ops(s, audit_value("admin", "POST /login", "x", None, "ok")))
    assert not is_young(s)


async def test_any_workload_or_password_change_settles_it() -> None:
    for ops in (
        [put("vms", "v1", {"name": "v"})],
        [put("networks", "n", {})],
        [put("sessions", "k", {"user": "admin"})],
        [put("users", "bob", {"role": "viewer"})],
        [put("users", "admin", {"role": "admin", "password_hash": "changed"})],
    ):
        s = await formed_store()
        await s.commit(ops)
        assert not is_young(s), ops


async def test_running_vms_count_everything_not_stopped() -> None:
    s = await formed_store()
    await s.commit([put("vm_status", "a", {"state": "running"}),
                    put("vm_status", "b", {"state": "stopped"}),
                    put("vm_status", "c", {"state": "migrating"})])  # fmt: skip
    assert running_vms(s) == 2


def test_a_joiner_gives_up_on_an_instance_that_dissolved() -> None:
    me = ann("j", role="joining")
    older = seen("a", "c1", "leader", young=True)
    assert joined_instance_lost(me, "c2", [older]).startswith("no host")
    assert "gives way" in joined_instance_lost(me, "c2", [older, seen("b", "c2", young=True)])
    assert joined_instance_lost(me, "c1", [older, seen("b", "c2", young=True)]) == ""
    # A settled instance is never given up on: it may only be slow to answer.
    assert joined_instance_lost(me, "c2", [seen("b", "c2"), older]) == ""


class FakeDiscovery:
    """The two things the healer reads and the one it writes, like ``Discovery``."""

    def __init__(self, me: Announcement, hosts: list[SeenHost]) -> None:
        self.me = me
        self._hosts = hosts

    def hosts(self) -> list[SeenHost]:
        return self._hosts

    def subscribe(self, _listener: Any) -> Any:
        return lambda: None

    def merge(self, running: int) -> Merge:
        return merge(self.me, self._hosts, running_vms=running)

    async def async_update(self, **changes: Any) -> None:
        self.me = replace(self.me, **changes)


async def test_healer_announces_young_and_moves_a_young_instance() -> None:
    s = await formed_store()
    moved: list[tuple[Merge, bool]] = []

    async def move(m: Merge, keep: bool) -> None:
        moved.append((m, keep))

    disc = FakeDiscovery(ann("n1", "c2", "leader"), [seen("a", "c1", "leader", young=True)])
    assert await SplitHealer(s, disc, "n1", move).step()
    assert disc.me.young  # it said so on mDNS first
    [(m, keep)] = moved
    assert m.into == "c1" and m.target is not None and m.target.node_id == "a" and not keep


async def test_healer_reports_a_side_with_running_vms_once_and_keeps_it() -> None:
    s = await formed_store()
    await s.commit([put("vms", "v1", {}), put("vm_status", "v1", {"state": "running"})])
    disc = FakeDiscovery(ann("n1", "c2", "leader"), [seen(x, "c1") for x in "abc"])

    async def move(m: Merge, keep: bool) -> None:
        raise AssertionError("a side that runs VMs must not move by itself")

    healer = SplitHealer(s, disc, "n1", move)
    assert not await healer.step() and not await healer.step()
    assert healer.status()["split_brain"]["action"] == "report"
    events = [e.value for e in s.scan("events") if e.value.get("kind") == "cluster.split_brain"]
    assert len(events) == 1 and events[0]["level"] == "error"


async def test_admin_rejoin_moves_this_side_keeping_its_state() -> None:
    s = await formed_store()
    await s.commit([put("vms", "v1", {})])
    await s.commit([put("meta", REJOIN_KEY, {"into": "c9", "by": "admin", "at": 1.0})])
    moved: list[tuple[Merge, bool]] = []

    async def move(m: Merge, keep: bool) -> None:
        moved.append((m, keep))

    disc = FakeDiscovery(ann("n1", "c1", "leader"), [seen("z", "c9", "leader")])
    assert await SplitHealer(s, disc, "n1", move).step()
    [(m, keep)] = moved
    assert m.into == "c9" and keep
