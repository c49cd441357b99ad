"""The rolling update's order and its stop rule. The hosts are a fake API: a real
host's reboot into another slot cannot run in this test (the whole-OS tests in
tests/distro do that on one host); the fake keeps what the real API shows:
maintenance, the VMs placed on a host, and /host/os before and after a reboot."""

import pytest

from peer.osimage import bundle, rollout


class FakeHosts:
    def __init__(self, nodes, leader, bad=(), vms=None):
        self.nodes = {n: {"id": n, "state": "active"} for n in nodes}
        self.leader = leader
        self.os = {n: {"os": True, "slot": "a", "version": "1", "rolled_back": None} for n in nodes}
        self.bad = set(bad)
        self.vms = dict(vms or {})  # vm -> node
        self.calls = []

    async def get(self, path, **q):
        self.calls.append(("GET", path, q.get("node")))
        if path == "/cluster":
            return {"leader": self.leader}
        if path == "/host/os":
            return dict(self.os[q["node"]])
        raise AssertionError(path)

    async def get_all(self, path, **q):
        if path == "/nodes":
            return list(self.nodes.values())
        if path == "/vms":
            return [v for v, n in self.vms.items() if n == q["node"]]
        raise AssertionError(path)

    async def patch(self, path, body):
        node = path.rsplit("/", 1)[1]
        self.calls.append(("PATCH", node, body["maintenance"]))
        self.nodes[node]["state"] = "maintenance" if body["maintenance"] else "active"
        if body["maintenance"]:  # the leader evacuates it
            self.vms = {v: ("elsewhere" if n == node else n) for v, n in self.vms.items()}

    async def request(self, method, path, *, query, data, headers, timeout):
        node = query["node"]
        assert self.nodes[node]["state"] == "maintenance"
        assert not [v for v, n in self.vms.items() if n == node]
        self.calls.append(("UPDATE", node))
        if node in self.bad:  # boot counting brought slot A back
            self.os[node]["rolled_back"] = {"slot": "b", "generation": 2}
        else:
            self.os[node].update(slot="b", version="2")
        return {}, {}


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setattr(rollout, "POLL_S", 0.01)


@pytest.fixture
def v2(tmp_path):
    bundle.make_key(tmp_path / "k", tmp_path / "p")
    src = {}
    for n in bundle.FILES:
        src[n] = tmp_path / n
        src[n].write_bytes(n.encode())
    bundle.write(tmp_path / "b.bundle", "2", src, bundle.load_private(tmp_path / "k"))
    return tmp_path / "b.bundle"


async def test_every_host_in_turn_the_leader_last(v2):
    api = FakeHosts(["h1", "h2", "h3"], leader="h1", vms={"vm1": "h2"})
    r = await rollout.run(api, v2, log=lambda m: None)
    assert r.ok and r.version == "2"
    assert [h.node for h in r.hosts] == ["h2", "h3", "h1"]
    assert [c[1] for c in api.calls if c[0] == "UPDATE"] == ["h2", "h3", "h1"]
    assert all(n["state"] == "active" for n in api.nodes.values())
    # a second roll finds everyone on version 2 and changes nothing
    again = await rollout.run(api, v2, log=lambda m: None)
    assert [h.outcome for h in again.hosts] == ["skipped"] * 3


async def test_a_host_that_rolled_back_stops_the_roll(v2):
    api = FakeHosts(["h1", "h2", "h3"], leader="h3", bad={"h2"})
    r = await rollout.run(api, v2, log=lambda m: None)
    assert not r.ok
    assert [(h.node, h.outcome) for h in r.hosts] == [("h1", "updated"), ("h2", "rolled_back")]
    assert api.os["h3"]["version"] == "1"  # never touched
    assert api.nodes["h2"]["state"] == "active"  # back in service on its old slot


def test_pure_parts(v2):
    assert rollout.peek_version(v2) == "2"
    nodes = [{"id": "b", "state": "active"}, {"id": "a"}, {"id": "c", "state": "removed"}]
    assert rollout.order_hosts(nodes, "a") == ["b", "a"]
    assert rollout.outcome({"os": False}, "2", "a") is None
    assert rollout.outcome({"os": True, "slot": "a", "version": "1"}, "2", "a") is None
