"""GET /cluster/certificates: each host's published certificate, with expiry status."""

from __future__ import annotations

import time
from pathlib import Path

from peer.api.resources.certificates import EXPIRY_WARNING_DAYS, certificate_view
from peer.node_record import tls_fields
from peer.tls import ensure_certificate, fingerprint
from raft.store import put
from tests.peer.api.conftest import bearer


def test_a_host_publishes_its_certificate(tmp_path: Path) -> None:
    assert tls_fields(tmp_path) is None  # no certificate: nothing published
    cert, _key = ensure_certificate(tmp_path / "tls", "h1.lab", "10.77.0.2")
    tls = tls_fields(tmp_path)
    assert tls is not None
    assert tls["sha256"] == fingerprint(cert)
    assert tls["subject"] == "CN=h1.lab" and tls["self_signed"] is True
    assert {"DNS:h1.lab", "IP:10.77.0.2", "IP:127.0.0.1"} <= set(tls["san"])
    assert tls["not_before"] < time.time() < tls["not_after"]


async def test_the_route_lists_every_host_with_its_status(client, tokens, store, tmp_path):
    ensure_certificate(tmp_path / "tls", "h1", "10.0.0.1")
    good = tls_fields(tmp_path)
    now = time.time()
    soon = dict(good, not_after=now + 5 * 86400)
    gone = dict(good, not_after=now - 60)
    await store.commit(
        [
            put("nodes", "n1", {"hostname": "h1", "address": "10.0.0.1", "tls": good}),
            put("nodes", "n2", {"hostname": "h2", "tls": soon}),
            put("nodes", "n3", {"hostname": "h3", "tls": gone}),
            put("nodes", "n4", {"hostname": "h4"}),
        ]
    )
    r = await client.get("/api/v1/cluster/certificates", headers=bearer(tokens["viewer"]))
    assert r.status == 200
    body = await r.json()
    assert body["warning_days"] == EXPIRY_WARNING_DAYS
    by = {c["node_id"]: c for c in body["items"]}
    assert by["n1"]["status"] == "ok" and by["n1"]["sha256"] == good["sha256"]
    assert by["n1"]["days_left"] > 3000 and by["n1"]["hostname"] == "h1"
    assert by["n2"]["status"] == "expiring" and 4 < by["n2"]["days_left"] <= 5
    assert by["n3"]["status"] == "expired"
    assert by["n4"] == {
        "node_id": "n4",
        "hostname": "h4",
        "address": None,
        "published": False,
        "san": [],
        "status": "unknown",
    }


async def test_the_route_needs_a_login(client):
    r = await client.get("/api/v1/cluster/certificates")
    assert r.status == 401 and (await r.json())["code"] == "unauthenticated"


def test_not_yet_valid() -> None:
    now = time.time()
    view = certificate_view("n1", {"tls": {"not_before": now + 3600, "not_after": now + 9e6}}, now)
    assert view["status"] == "not_yet_valid"
