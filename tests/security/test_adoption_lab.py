"""Hole 1 on real hosts: a factory host in the lab, attacked from the LAN and
adopted by an admin, through HTTPS, mDNS and the real daemons."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from chaos.lab import Host, Lab
from tests.labs import host_api, lab_tls, short_lab
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("p") as lab:
        yield lab


def https_post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What anyone on the management LAN can send (no credentials)."""
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10, context=lab_tls()) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def members(h: Host) -> set[str]:
    return {m["node_id"] for m in host_api(h).get("/cluster")["members"]}


def test_a_factory_host_is_adopted_only_with_the_code_on_its_console(lab: Lab) -> None:
    (member,) = lab.up(1)
    wait_for(lambda: host_api(member).get("/health").get("has_quorum"), 60, "the cluster")
    fresh = lab.add_host(factory=True)
    fresh_id = wait_for(lambda: host_api(fresh).get("/peer")["node_id"], 30, "the factory host")
    adopt_url = f"{fresh.url}api/v1/cluster/adopt"

    # An attacker on the LAN: a cluster name and secret of its own choosing.
    status, body = https_post(
        adopt_url,
        {
            "v": 1,
            "cluster_name": "evil",
            "cluster_id": "evil-1",
            "sponsor": "attacker",
            "secret": "s" * 24,
        },
    )
    assert status == 403, body
    assert host_api(fresh).get("/peer")["raft"]["role"] == "factory"
    assert not (fresh.data_dir / "cluster.secret").exists()
    assert not (fresh.data_dir / "cluster.json").exists()

    # mDNS lists it, with its certificate as a hint (never a secret).
    def listed() -> dict[str, Any] | None:
        items = host_api(member).get("/cluster/discovered")["items"]
        return next((d for d in items if d["id"] == fresh_id), None)

    rec = wait_for(listed, 30, "the factory host to be listed as discovered")
    assert rec["cert_fp"] and len(rec["cert_fp"]) == 64
    path = f"/cluster/discovered/{fresh_id}/adopt"
    # An admin without the code, or with a wrong one: refused, nothing changes.
    status, body = host_api(member).post(path, {})
    assert (status, body["code"]) == (403, "pairing_required"), body
    status, body = host_api(member).post(path, {"pairing_code": "0000-0000-0000-0000"})
    assert (status, body["code"]) == (403, "pairing_refused"), body
    assert host_api(fresh).get("/peer")["raft"]["role"] == "factory"
    assert len(members(member)) == 1

    # With the code read off its console: adopted, and it joins.
    code = host_api(fresh).get("/peer")["pairing_code"]
    assert code == (fresh.data_dir / "pairing-code").read_text().strip()
    status, body = host_api(member).post(path, {"pairing_code": code})
    assert status == 202, body
    wait_for(lambda: fresh_id in members(member), 60, "the adopted host to join")
    assert "pairing_code" not in host_api(fresh).get("/peer")

    # Now a member: adoption is over for it (409 not_factory, as documented).
    status, body = https_post(
        adopt_url,
        {
            "v": 1,
            "cluster_name": "evil",
            "cluster_id": "evil-1",
            "sponsor": "attacker",
            "secret": "s" * 24,
        },
    )
    assert (status, body.get("code")) == (409, "not_factory"), body
