"""The join handshake: mutual proof of the secret, bound to ids, cluster and TLS."""

from __future__ import annotations

import json

import pytest

from discovery.adopt import AdoptPayload, unwrap_secret, wrap_secret
from discovery.errors import HandshakeError, PairingError, SecretWrapError
from discovery.handshake import (
    ChallengeBook,
    JoinChallenge,
    JoinHello,
    JoinProve,
    cert_fingerprint,
    finish_join,
    start_join,
)

SECRET = "correct horse battery staple"
FP = cert_fingerprint(b"responder certificate DER")


def wire(obj: JoinHello | JoinChallenge | JoinProve) -> dict[str, object]:
    d = json.loads(json.dumps(obj.to_dict()))
    assert isinstance(d, dict)
    return d


def responder() -> ChallengeBook:
    return ChallengeBook("prod", "bbbb", "cid-1", ttl=30)


def test_both_sides_know_the_secret_join_succeeds_and_secret_never_travels() -> None:
    book = responder()
    hello, state = start_join("prod", "aaaa", "10.77.0.2:8444")
    ch = book.answer(SECRET, JoinHello.from_dict(wire(hello)), now=0.0, cert_fp=FP)
    prove = finish_join(SECRET, state, JoinChallenge.from_dict(wire(ch)), cert_fp=FP)
    accepted = book.verify(SECRET, JoinProve.from_dict(wire(prove)), now=1.0, cert_fp=FP)
    assert accepted.node_id == "aaaa" and accepted.raft_addr == "10.77.0.2:8444"
    for msg in (hello, ch, prove):
        assert SECRET not in json.dumps(msg.to_dict())


def test_responder_without_secret_is_detected_by_joiner() -> None:
    hello, state = start_join("prod", "aaaa", "10.77.0.2:8444")
    ch = responder().answer("an impostor's guess", hello, 0.0, FP)
    with pytest.raises(HandshakeError, match="bbbb"):
        finish_join(SECRET, state, ch, FP)


def test_joiner_with_wrong_secret_is_refused() -> None:
    book = responder()
    hello, state = start_join("prod", "aaaa", "10.77.0.2:8444")
    ch = book.answer(SECRET, hello, 0.0, FP)
    # The joiner cannot even check the responder, and a forged proof fails.
    with pytest.raises(HandshakeError):
        finish_join("wrong secret value", state, ch, FP)
    forged = JoinProve("aaaa", hello.nonce, ch.nonce, ch.proof)  # reflect B's own proof
    with pytest.raises(HandshakeError, match="could not prove"):
        book.verify(SECRET, forged, 1.0, FP)


def test_man_in_the_middle_certificate_breaks_the_proofs() -> None:
    hello, state = start_join("prod", "aaaa", "10.77.0.2:8444")
    ch = responder().answer(SECRET, hello, 0.0, FP)
    with pytest.raises(HandshakeError):
        finish_join(SECRET, state, ch, cert_fingerprint(b"the attacker's certificate"))


def test_proof_cannot_be_replayed_or_used_for_another_node() -> None:
    book = responder()
    hello, state = start_join("prod", "aaaa", "10.77.0.2:8444")
    ch = book.answer(SECRET, hello, 0.0, FP)
    prove = finish_join(SECRET, state, ch, FP)
    book.verify(SECRET, prove, 1.0, FP)
    with pytest.raises(HandshakeError, match="unknown, used or expired"):
        book.verify(SECRET, prove, 2.0, FP)
    # Another node reusing a's proof against its own challenge fails.
    hello_c, _ = start_join("prod", "cccc", "10.77.0.4:8444")
    ch_c = book.answer(SECRET, hello_c, 3.0, FP)
    stolen = JoinProve("cccc", hello_c.nonce, ch_c.nonce, prove.proof)
    with pytest.raises(HandshakeError):
        book.verify(SECRET, stolen, 4.0, FP)


def test_challenge_expires_and_book_is_bounded() -> None:
    book = ChallengeBook("prod", "bbbb", "cid-1", ttl=5, max_pending=3)
    hello, state = start_join("prod", "aaaa", "10.77.0.2:8444")
    prove = finish_join(SECRET, state, book.answer(SECRET, hello, 0.0), "")
    with pytest.raises(HandshakeError, match="expired"):
        book.verify(SECRET, prove, 6.0)
    for i in range(10):
        book.answer(SECRET, start_join("prod", f"n{i}", "10.77.0.9:8444")[0], 7.0)
    assert len(book._pending) == 3


def test_wrong_cluster_or_self_join_refused() -> None:
    with pytest.raises(HandshakeError, match="not 'dev'"):
        responder().answer(SECRET, start_join("dev", "aaaa", "10.77.0.2:8444")[0], 0.0)
    with pytest.raises(HandshakeError, match="itself"):
        responder().answer(SECRET, start_join("prod", "bbbb", "10.77.0.2:8444")[0], 0.0)


@pytest.mark.parametrize(
    "body",
    [None, [], {"v": 2}, {"cluster": "prod", "node_id": "a", "raft_addr": "x", "nonce": "00"}],
)
def test_malformed_messages_are_refused(body: object) -> None:
    with pytest.raises(HandshakeError):
        JoinHello.from_dict(body)


def test_adoption_payload_round_trip_and_repr_hides_secret() -> None:
    p = AdoptPayload("prod", "cid-1", "bbbb", "ee" * 32, SECRET)
    body = wrap_secret(p, "aa" * 32, "bb" * 32)
    assert unwrap_secret(json.loads(json.dumps(body))) == (p, "aa" * 32, "bb" * 32)
    assert SECRET not in repr(p)
    with pytest.raises(SecretWrapError):
        unwrap_secret({**body, "secret": "short"})
    with pytest.raises(PairingError):  # no proof of the pairing code
        unwrap_secret({k: v for k, v in body.items() if k != "proof"})
