"""Hole 3: one captured join hello must not let anyone test guesses of the
cluster secret cheaply, and hellos from one source are rate-limited."""

from __future__ import annotations

import hashlib
import hmac
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from discovery import handshake
from discovery.handshake import ChallengeBook, JoinHello, start_join
from peer.api.app import build_app
from peer.context import PeerContext
from peer.join import JoinResponder
from peer.join import routes as join_routes

SECRET = "correct horse battery staple"
FP = "ab" * 32


def _transcript(label: str, hello: JoinHello, responder: str, nonce_b: str) -> bytes:
    fields = (
        "quantix-join-v1",
        label,
        hello.cluster,
        hello.node_id,
        responder,
        hello.nonce,
        nonce_b,
        FP,
        hello.raft_addr,
    )
    return b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)


def test_a_captured_answer_does_not_verify_a_guess_with_two_hmacs() -> None:
    """What an attacker holds after one open hello: its own hello and the
    responder's answer. Testing a guess must cost the slow KDF, not two HMACs."""
    book = ChallengeBook("prod", "bbbb", "cid-1")
    hello, _ = start_join("prod", "attacker", "10.77.0.9:8444")
    answer = book.answer(SECRET, hello, now=0.0, cert_fp=FP)

    def cheap_guess(guess: str, protocol: str) -> bool:
        key = hmac.new(guess.encode(), f"{protocol} key|prod".encode(), hashlib.sha256).digest()
        for label in (protocol,):
            msg = _transcript("responder", hello, "bbbb", answer.nonce).replace(
                b"quantix-join-v1", label.encode(), 1
            )
            if hmac.compare_digest(hmac.new(key, msg, hashlib.sha256).hexdigest(), answer.proof):
                return True
        return False

    # Even the right guess does not verify with a plain HMAC key.
    assert not cheap_guess(SECRET, "quantix-join-v1")
    assert not cheap_guess(SECRET, handshake.PROTOCOL)
    # The key is stretched with a memory-hard KDF of at least 16 MiB per try.
    kdf = getattr(handshake, "KDF", {"n": 0, "r": 0})
    assert 128 * kdf["n"] * kdf["r"] >= 16 * 1024 * 1024


def test_a_generated_join_code_has_128_bits_and_can_be_typed() -> None:
    from discovery.handshake import new_join_code

    code = new_join_code()
    raw = code.replace("-", "")
    assert len(raw) * 5 >= 128  # base32: 5 bits a character
    assert set(raw) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")  # no I, L, O, U to misread
    assert all(len(g) <= 5 for g in code.split("-"))
    assert new_join_code() != code


async def test_hellos_from_one_source_are_rate_limited(
    ctx: PeerContext, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> None:
    ctx.services["join"] = JoinResponder("prod", "cid-1", ctx.node_id, SECRET, FP)
    client = await aiohttp_client(build_app(ctx, extra_routes=[join_routes]))
    statuses = []
    for _ in range(40):
        hello, _ = start_join("prod", "attacker", "10.77.0.9:8444")
        resp = await client.post("/api/v1/cluster/join/hello", json=hello.to_dict())
        statuses.append(resp.status)
        body = await resp.json()
        if resp.status == 429:
            assert body["code"] == "rate_limited"
    assert statuses[0] == 200
    assert 429 in statuses
    assert statuses.count(200) <= 25


def test_without_a_secret_the_founder_generates_a_join_code_once(tmp_path: Path) -> None:
    """node.yaml with a cluster name and no secret: a 130-bit join code, kept
    0600 (as the secret and in ``join-code``), the same one after a restart."""
    from peer.config import parse_config
    from peer.identity import JOIN_CODE_FILE, Membership, first_secret

    cfg = parse_config("cluster:\n  name: prod\n")
    assert cfg.cluster_name == "prod" and cfg.cluster_secret is None
    m = Membership(tmp_path)
    code, generated = first_secret(m, cfg.cluster_secret)
    assert generated and len(code.replace("-", "")) * 5 >= 128
    for f in (m.secret_path, tmp_path / JOIN_CODE_FILE):
        assert f.read_text().strip() == code
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert first_secret(m, None) == (code, False)  # a restart: the same secret
    # A typed secret is used as it is (and stretched by the KDF when joining).
    typed = Membership(tmp_path / "other")
    assert first_secret(typed, "a typed secret of ours") == ("a typed secret of ours", False)
