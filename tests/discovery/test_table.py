"""The table of seen hosts: events on real changes only, and removal is only a hint."""

from __future__ import annotations

from discovery.model import Announcement, SeenHost
from discovery.table import HostTable


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def ann(node_id: str = "n1", role: str = "joining", cid: str = "") -> Announcement:
    return Announcement(node_id=node_id, cluster_name="prod", cluster_id=cid, api_port=8443,
                        raft_port=8444, version="1", role=role)  # type: ignore[arg-type]  # fmt: skip


def test_events_only_on_change_and_times_tracked() -> None:
    clock = Clock()
    t = HostTable(clock)
    events: list[tuple[str, str, str]] = []
    t.subscribe(lambda e, h: events.append((e, h.node_id, h.role)))
    t.upsert("n1._quantix._tcp.local.", ann(), "10.0.0.2")
    clock.t = 105.0
    t.upsert("n1._quantix._tcp.local.", ann(), "10.0.0.2")  # refresh: no event
    t.upsert("n1._quantix._tcp.local.", ann(role="leader", cid="c1"), "10.0.0.2")
    assert events == [("added", "n1", "joining"), ("updated", "n1", "leader")]
    h = t.get("n1")
    assert isinstance(h, SeenHost) and h.first_seen == 100.0 and h.last_seen == 105.0
    assert h.api_url == "https://10.0.0.2:8443" and h.raft_addr == "10.0.0.2:8444"
    t.remove_instance("n1._quantix._tcp.local.")
    t.remove_instance("n1._quantix._tcp.local.")  # twice: one event
    assert events[-1] == ("removed", "n1", "leader") and len(events) == 3 and t.hosts() == []


def test_touch_and_stale() -> None:
    clock = Clock()
    t = HostTable(clock)
    t.upsert("a", ann("a"), "10.0.0.2")
    t.upsert("b", ann("b"), "10.0.0.3")
    clock.t = 120.0
    assert t.touch("a") and not t.touch("unknown")
    assert [(name, h.node_id) for name, h in t.stale(110.0)] == [("b", "b")]


def test_broken_listener_does_not_stop_others_and_unsubscribe_works() -> None:
    t = HostTable()
    seen: list[str] = []

    def broken(_e: str, _h: SeenHost) -> None:
        raise RuntimeError("boom")

    t.subscribe(broken)
    unsubscribe = t.subscribe(lambda e, h: seen.append(e))
    t.upsert("a", ann("a"), "10.0.0.2")
    unsubscribe()
    t.upsert("a", ann("a", role="member", cid="c"), "10.0.0.2")
    assert seen == ["added"]


def test_instance_that_changes_node_id_replaces_the_old_entry() -> None:
    t = HostTable()
    events: list[tuple[str, str]] = []
    t.subscribe(lambda e, h: events.append((e, h.node_id)))
    t.upsert("inst", ann("old"), "10.0.0.2")
    t.upsert("inst", ann("new"), "10.0.0.2")
    assert [h.node_id for h in t.hosts()] == ["new"]
    assert events == [("added", "old"), ("removed", "old"), ("added", "new")]
    t.clear()
    assert events[-1] == ("removed", "new") and t.hosts() == []
