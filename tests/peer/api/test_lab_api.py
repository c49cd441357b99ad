"""The API on a real 3-peer lab: any peer serves it, writes from followers commit,
revocations and lockouts hold everywhere, the stream serves from any peer, and
schemathesis finds the served document honoured."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chaos.lab import Lab
from tests.peer.api.conformance import run_conformance
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

if os.geteuid() != 0:
    pytest.skip("the lab needs root", allow_module_level=True)
pytest.importorskip("peer.daemon")


class Peer:
    """requests against one lab peer (self-signed certificate, so no verification)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.s = requests.Session()
        self.s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=False
        self.s.verify = False
        if token:
            self.s.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.s.request(method, f"{self.url}/api/v1{path}", timeout=15, **kw)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    import urllib3

    urllib3.disable_warnings()
    lab = Lab("a" + secrets.token_hex(3), Path(tmp_path_factory.mktemp("labs")))
    try:
        lab.up(3)
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def peers(lab: Lab) -> list[Peer]:
    password = lab.admin_password(timeout=60)
    assert password, "no peer wrote the initial admin password"
    anon = [Peer(h.url) for h in lab.hosts()]

    def all_in_quorum() -> bool:
        try:
            return all(p.call("GET", "/health").json().get("has_quorum") for p in anon)
        except (requests.RequestException, ValueError):
            return False

    wait_for(all_in_quorum, 60, "the 3 peers to form a cluster", 0.5)
    r = anon[0].call("POST", "/auth/login", json={"username": "admin", "password": password})
    assert r.status_code == 200, r.text
    cookie = {
        "Cookie": f"qx_session={r.cookies['qx_session']}",
        "X-CSRF-Token": r.json()["csrf_token"],
    }
    tok = anon[0].call("POST", "/tokens", json={"name": "lab-test"}, headers=cookie).json()["token"]
    out = [Peer(h.url, tok) for h in lab.hosts()]

    def three_nodes() -> bool:
        return bool(out[0].call("GET", "/cluster").json()["health"]["nodes_total"] == 3)

    wait_for(three_nodes, 30, "every peer to register its node", 0.5)
    return out


def test_writes_through_any_peer_are_read_consistently_everywhere(peers):
    for i, p in enumerate(peers):
        r = p.call("POST", "/pools", json={"name": f"p{i}"})
        assert r.status_code == 201, r.text
    for p in peers:
        names = {x["id"] for x in p.call("GET", "/pools?consistent=true").json()["items"]}
        assert {"p0", "p1", "p2"} <= names
    cluster = peers[2].call("GET", "/cluster").json()
    assert cluster["health"]["nodes_total"] == 3 and cluster["leader"]


def test_a_revoked_token_fails_on_every_peer(peers):
    r = peers[0].call("POST", "/tokens", json={"name": "short", "role": "viewer"})
    tok = r.json()
    # Read-your-writes on the other peers: wait for the creating revision.
    seen = {"X-Quantix-Min-Revision": r.headers["X-Quantix-Revision"]}
    viewers = [Peer(p.url, tok["token"]) for p in peers]
    assert [v.call("GET", "/vms", headers=seen).status_code for v in viewers] == [200] * 3
    r = peers[1].call("DELETE", f"/tokens/{tok['id']}")
    assert r.status_code == 204
    # Committed before the answer: every peer that has applied it refuses the token.
    seen = {"X-Quantix-Min-Revision": r.headers["X-Quantix-Revision"]}
    assert [v.call("GET", "/vms", headers=seen).status_code for v in viewers] == [401] * 3


def test_a_lock_is_held_where_it_was_earned_and_one_unlock_lifts_it_everywhere(peers):
    r = peers[0].call(
        "POST", "/users", json={"name": "mallory", "role": "viewer", "password": "right-password"}
    )
    assert r.status_code == 201
    anon = [Peer(p.url) for p in peers]
    seen = r.headers["X-Quantix-Revision"]
    for peer in anon[:2]:  # failed logins on two peers, from this address
        codes = [
            peer.call(
                "POST", "/auth/login", json={"username": "mallory", "password": "x"}
            ).status_code
            for _ in range(5)
        ]
        assert codes == [401, 401, 401, 401, 423]
    # Failures are counted where they happen (nothing is replicated for them).
    good = {"username": "mallory", "password": "right-password"}
    assert anon[2].call("POST", "/auth/login", json=good).status_code == 200
    r = peers[2].call("POST", "/users/mallory/unlock")
    assert r.status_code == 200
    seen = r.headers["X-Quantix-Revision"]
    for admin, peer in zip(peers[:2], anon[:2], strict=True):
        # (an authenticated read waits until that peer has applied the unlock)
        admin.call("GET", "/users/mallory", headers={"X-Quantix-Min-Revision": seen})
        got = peer.call("POST", "/auth/login", json=good)  # one unlock, every peer
        assert got.status_code == 200, got.text


def test_the_stream_on_one_peer_sees_writes_made_on_another(peers):
    import asyncio

    import aiohttp

    async def go() -> dict[str, Any]:
        headers = {"Authorization": str(peers[2].s.headers["Authorization"])}
        async with (
            aiohttp.ClientSession() as s,
            s.ws_connect(
                f"{peers[2].url}/api/v1/events/stream?kind=pool.created", headers=headers, ssl=False
            ) as ws,
        ):
            await asyncio.to_thread(peers[0].call, "POST", "/pools", json={"name": "streamed"})
            async with asyncio.timeout(10):
                return dict(await ws.receive_json())

    ev = asyncio.run(go())
    assert ev["resource_id"] == "streamed"


def test_schemathesis_against_a_follower(peers):
    follower = next(p for p in peers if p.call("GET", "/peer").json()["raft"]["role"] != "leader")
    token = follower.s.headers["Authorization"].split()[1]
    failures, calls = run_conformance(follower.url, str(token), max_examples=5, verify=False)
    assert not failures, "\n\n".join(failures)
    assert calls > 100


def test_cli_login_pins_the_peer_certificate(lab, peers, tmp_path, monkeypatch, capsys):
    import io
    import sys

    import yaml

    from peer.cli.client import server_fingerprint
    from peer.cli.main import main

    monkeypatch.setenv("QUANTIX_CONFIG", str(tmp_path / "config.yaml"))
    url = peers[1].url
    fp = server_fingerprint(url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(lab.admin_password() + "\n"))
    code = main(["login", url, "--fingerprint", fp, "--user", "admin", "--password-stdin"])
    assert code == 0, capsys.readouterr().err
    assert main(["vm", "list"]) == 0
    # A different certificate (a reinstalled host, or someone in between) is refused.
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    for c in cfg["contexts"].values():
        c["fingerprint"] = "00" * 32
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    assert main(["vm", "list"]) == 3
    assert "not the pinned one" in capsys.readouterr().err
