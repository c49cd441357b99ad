"""Plug in and auto-cluster, on real hosts: peers in network namespaces on one
bridge, real mDNS, real Raft, the real join handshake over HTTPS."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.lab import Host, Lab
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

FORM_TIMEOUT = 45.0


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab("c" + secrets.token_hex(3), tmp_path / "labs")
    try:
        yield lab
    finally:
        lab.down()


def api(h: Host) -> LocalApi:
    return LocalApi(h.dir / "peer.sock")


def peer(h: Host) -> dict[str, Any]:
    result: dict[str, Any] = api(h).get("/peer")
    return result


def cluster(h: Host) -> dict[str, Any]:
    result: dict[str, Any] = api(h).get("/cluster")
    return result


def voters(h: Host) -> set[str]:
    return {m["node_id"] for m in cluster(h)["members"] if m["voter"]}


def formed(hosts: list[Host], n_members: int) -> bool:
    """Every host reports the same leader and ``n_members`` active members."""
    views = []
    for h in hosts:
        c = cluster(h)
        active = {m["node_id"] for m in c["members"] if m["state"] == "active"}
        views.append((c["leader"], frozenset(active), c["name"]))
    leaders = {v[0] for v in views}
    return len(leaders) == 1 and None not in leaders and all(len(v[1]) == n_members for v in views)


def test_three_hosts_form_one_cluster_then_a_fourth_joins(lab: Lab) -> None:
    hosts = lab.up(3)
    wait_for(lambda: formed(hosts, 3), FORM_TIMEOUT, "3 hosts to form one cluster")
    ids = {peer(h)["node_id"] for h in hosts}
    assert {m["node_id"] for m in cluster(hosts[0])["members"]} == ids
    wait_for(lambda: voters(hosts[0]) == ids, FORM_TIMEOUT, "all 3 hosts to vote")
    # Exactly one bootstrapper created the admin and printed its password.
    assert lab.admin_password(timeout=5)
    cluster_ids = {peer(h)["cluster_id"] for h in hosts}
    assert len(cluster_ids) == 1

    h4 = lab.add_host()
    hosts.append(h4)
    wait_for(lambda: formed(hosts, 4), FORM_TIMEOUT, "the 4th host to join")
    # Fewer than 5 hosts: still 3 voters; the 4th holds the state as a replica.
    assert len(voters(hosts[0])) == 3
    assert peer(h4)["raft"]["revision"] > 0


def test_wrong_secret_is_refused_and_both_sides_say_why(lab: Lab) -> None:
    hosts = lab.up(2)

    def all_vote() -> bool:
        return formed(hosts, 2) and voters(hosts[0]) == {peer(h)["node_id"] for h in hosts}

    # Formed down to the promotion of the second voter: a replica restarts its Raft
    # node as a voter and reports no leader for ~0.2 s meanwhile, which must not
    # coincide with the check below that the refusal left the cluster intact.
    wait_for(all_vote, FORM_TIMEOUT, "2 hosts to form, both voting")
    bad = lab.add_host(secret="this-is-not-the-secret")

    def refused() -> bool:
        err = peer(bad).get("formation", {}).get("join_error") or ""
        return "prove" in err

    wait_for(refused, FORM_TIMEOUT, "the wrong-secret host to be refused")
    assert peer(bad)["raft"]["role"] == "joining"

    def member_logged() -> bool:
        return any(peer(h).get("join_refusals") for h in hosts)

    wait_for(member_logged, 10, "a member to record the refusal")
    assert formed(hosts, 2)


def test_two_clusters_on_one_lan_stay_separate(lab: Lab) -> None:
    a = lab.up(2)
    b = [lab.add_host(cluster="other"), lab.add_host(cluster="other")]
    wait_for(lambda: formed(a, 2) and formed(b, 2), FORM_TIMEOUT, "both clusters to form")
    assert cluster(a[0])["name"] != cluster(b[0])["name"]
    assert {m["node_id"] for m in cluster(a[0])["members"]}.isdisjoint(
        {m["node_id"] for m in cluster(b[0])["members"]}
    )


def test_factory_host_is_discovered_and_adopted_by_api(lab: Lab) -> None:
    hosts = lab.up(2)
    wait_for(lambda: formed(hosts, 2), FORM_TIMEOUT, "2 hosts to form")
    fresh = lab.add_host(factory=True)
    fresh_id = wait_for(lambda: peer(fresh)["node_id"], 20, "the factory host's API")
    assert peer(fresh)["raft"]["role"] == "factory"

    def discovered() -> bool:
        # Each peer lists what its own mDNS browser has seen: wait for both, as
        # the adoption below goes through the other one.
        for h in hosts:
            body = api(h).get("/cluster/discovered")
            items = body["items"] if isinstance(body, dict) else body
            if not any(d["id"] == fresh_id for d in items):
                return False
        return True

    wait_for(discovered, FORM_TIMEOUT, "the factory host to be listed as discovered")
    # The code a person reads off the factory host's console (its local API).
    code = peer(fresh)["pairing_code"]
    status, body = api(hosts[1]).post(
        f"/cluster/discovered/{fresh_id}/adopt", {"pairing_code": code}
    )
    assert status == 202, body
    hosts.append(fresh)
    wait_for(lambda: formed(hosts, 3), FORM_TIMEOUT, "the adopted host to join")


def test_whole_cluster_stopped_and_started_again_is_the_same_cluster(lab: Lab) -> None:
    hosts = lab.up(3)
    wait_for(lambda: formed(hosts, 3), FORM_TIMEOUT, "3 hosts to form")
    before = cluster(hosts[0])
    ids = {m["node_id"] for m in before["members"]}
    for h in hosts:
        assert lab.stop(h.name)
    for h in hosts:
        lab.start(h.name)
    wait_for(lambda: formed(hosts, 3), FORM_TIMEOUT, "the cluster to come back")
    after = cluster(hosts[1])
    assert {m["node_id"] for m in after["members"]} == ids
    assert after["created_at"] == before["created_at"]
    assert after["revision"] >= before["revision"]


def test_bootstrapper_killed_during_formation_still_ends_in_one_cluster(lab: Lab) -> None:
    hosts = lab.up(3)
    # The lowest node id bootstraps; kill it as soon as it leads, before others joined.
    ids = {h.name: wait_for(lambda h=h: peer(h)["node_id"], 20, "peer ids") for h in hosts}
    first = min(hosts, key=lambda h: ids[h.name])
    wait_for(
        lambda: peer(first)["raft"]["role"] in ("leader", "follower"), FORM_TIMEOUT, "bootstrap"
    )
    lab.kill(first.name)
    lab.start(first.name)
    wait_for(lambda: formed(hosts, 3), 90, "one cluster of 3 after the bootstrapper died")
    assert len({peer(h)["cluster_id"] for h in hosts}) == 1


def test_seven_hosts_five_voters_and_a_dead_voter_is_replaced(lab: Lab) -> None:
    hosts = lab.up(7)
    wait_for(lambda: formed(hosts, 7), 120, "7 hosts to form")
    wait_for(lambda: len(voters(hosts[0])) == 5, 60, "5 voters")
    by_id = {peer(h)["node_id"]: h for h in hosts}
    leader = cluster(hosts[0])["leader"]
    victim_id = sorted(voters(hosts[0]) - {leader})[0]
    lab.kill(by_id[victim_id].name)
    alive = [h for h in hosts if h is not by_id[victim_id]]
    wait_for(
        lambda: victim_id not in voters(alive[0]) and len(voters(alive[0])) == 5,
        120,
        "a replica to be promoted in the dead voter's place",
    )
