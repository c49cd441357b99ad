"""The lab with real peers: hosts form one cluster by themselves and survive a kill -9.

Skipped until the peer daemon (``quantix peer --config``) exists.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.lab import Lab
from chaos.lab.http import ApiError, get_json
from peer.membership import target_voters
from tests.util import wait_for

pytestmark = [
    pytest.mark.xdist_group("lab"),
    pytest.mark.lab,
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab("c" + secrets.token_hex(3), tmp_path / "labs")
    try:
        yield lab
    finally:
        lab.down()


def health(lab: Lab, names: list[str]) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for name in names:
        try:
            body = get_json(lab.host(name).url + "api/v1/health", timeout=2)
            out[name] = body if isinstance(body, dict) else None
        except ApiError:
            out[name] = None
    return out


def one_cluster(lab: Lab, names: list[str]) -> str | None:
    """The leader's host name if ``names`` all have quorum and exactly one leads."""
    hs = health(lab, names)
    if any(h is None or not h.get("has_quorum") for h in hs.values()):
        return None
    # As many voters as the leader wants (not still a read-only "replica"): only
    # then does the cluster survive losing its leader.
    voters = [n for n, h in hs.items() if h and h.get("raft_role") in ("leader", "follower")]
    if len(voters) != target_voters(len(names)):
        return None
    leaders = [n for n, h in hs.items() if h and h.get("raft_role") == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def test_three_hosts_form_one_cluster_and_survive_killing_the_leader(lab: Lab) -> None:
    lab.up(3)
    everyone = ["h1", "h2", "h3"]
    wait_for(
        lambda: one_cluster(lab, everyone) is not None,
        180,
        "one cluster of h1-h3",
        0.5,
        lambda: [h.log.read_text()[-2000:] for h in lab.hosts()],
    )
    assert lab.admin_password(timeout=30)
    leader = one_cluster(lab, everyone)
    assert leader is not None
    lab.kill(leader)
    rest = [n for n in everyone if n != leader]
    wait_for(
        lambda: one_cluster(lab, rest) is not None,
        60,
        "the rest to elect a leader",
        0.5,
        lambda: health(lab, rest),
    )
    lab.start(leader)
    wait_for(lambda: one_cluster(lab, everyone) is not None, 120, interval=0.5)


def test_wrong_secret_factory_host_and_another_name_stay_out(lab: Lab) -> None:
    lab.up(2)
    wait_for(lambda: one_cluster(lab, ["h1", "h2"]) is not None, 180, interval=0.5)
    lab.add_host(secret="not-the-cluster-secret")  # h3: same name, wrong secret
    lab.add_host(factory=True)  # h4
    lab.add_host(cluster="blue")  # h5: a cluster of its own, side by side
    wait_for(lambda: one_cluster(lab, ["h5"]) is not None, 120, interval=0.5)
    refused = "could not prove it knows the secret"
    wait_for(lambda: refused in lab.host("h3").log.read_text(), 60, interval=0.5)
    hs = health(lab, ["h1", "h2", "h3", "h4"])
    assert (
        hs["h3"] is not None and hs["h3"]["raft_role"] == "joining" and not hs["h3"]["has_quorum"]
    )
    assert hs["h4"] is not None and hs["h4"]["raft_role"] == "factory"
    assert one_cluster(lab, ["h1", "h2"]) is not None
    # The secret never shows up in a log.
    secret = lab.cluster_secret()
    assert all(secret not in h.log.read_text() for h in lab.hosts())
