"""The join handshake: both sides prove they know the cluster secret, never send it. Pure.

    joiner A                                        responder B (a member)
    hello    {cluster, node_id=A, raft_addr, nonce_a}  ->
             <-  challenge {node_id=B, cluster_id, nonce_b, proof_b}
    A checks proof_b = MAC(responder | ... )
    prove    {node_id=A, nonce_a, nonce_b, proof_a}    ->
                                                    B checks proof_a = MAC(joiner | ...)

MAC = HMAC-SHA256 keyed with K = scrypt(secret, salt="quantix-join-v2 key|" +
cluster) (``KDF``: 32 MiB and a fraction of a second per try), over an unambiguous
(length-prefixed) transcript: protocol, role label, cluster,
A, B, nonce_a, nonce_b, B's TLS certificate SHA-256 as each side knows it, and
A's raft address. So a proof is bound to both node ids, this cluster, both
fresh nonces, this TLS connection (a man in the middle presents another
certificate, and the proofs stop matching) and the address A will be admitted
with. The role label keeps B's proof from being reflected as A's. B keeps each
nonce_b once, for ``ttl`` seconds: a replayed or late ``prove`` is refused.

Why scrypt: anyone may send a hello, and the answer carries B's proof, so a
captured answer lets an attacker test guesses of the secret offline. With a
plain HMAC key that costs two HMACs per guess; with scrypt each guess costs the
KDF (memory-hard, so GPUs gain little), and a generated join code (140 bits,
``new_join_code``) leaves nothing to guess at all. Each side derives K once per
secret and keeps it (``derive_key`` is cached), so hellos cost the responder
only HMACs.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from discovery.errors import HandshakeError
from discovery.model import CLUSTER_ID_RE, CLUSTER_NAME_RE, NODE_ID_RE

PROTOCOL: Final = "quantix-join-v2"
# scrypt cost of the join key: n=2^15, r=8 is 32 MiB of memory; 0.5-0.8 s on
# the shared 2-core lab machine under load 25-30 (docs/security.md); p=1.
KDF: Final = {"n": 2**15, "r": 8, "p": 1}
_KDF_MAXMEM: Final = 64 * 1024 * 1024
# A generated join code: 28 characters of Crockford's base32 (no I, L, O, U) =
# 140 bits, shown in groups of four (like the pairing code) so a person can
# type it from a screen.
_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
JOIN_CODE_CHARS: Final = 28
NONCE_BYTES: Final = 32
_HEX_RE: Final = re.compile(r"^[0-9a-f]{64}$")
_ADDR_RE: Final = re.compile(r"^[0-9.]{7,15}:[0-9]{1,5}$")
_FP_RE: Final = re.compile(r"^([0-9a-f]{64})?$")


@dataclass(frozen=True)
class JoinHello:
    """Joiner -> responder (``POST /api/v1/cluster/join/hello``)."""

    cluster: str
    node_id: str
    raft_addr: str
    nonce: str

    def to_dict(self) -> dict[str, Any]:
        return {"v": 1, **self.__dict__}

    @classmethod
    def from_dict(cls, d: Any) -> JoinHello:
        f = _fields(d, ("cluster", "node_id", "raft_addr", "nonce"))
        _check(CLUSTER_NAME_RE, f["cluster"], "cluster")
        _check(NODE_ID_RE, f["node_id"], "node_id")
        _check(_ADDR_RE, f["raft_addr"], "raft_addr")
        _check(_HEX_RE, f["nonce"], "nonce")
        return cls(**f)


@dataclass(frozen=True)
class JoinChallenge:
    """Responder -> joiner: the answer to a hello, with the responder's proof."""

    node_id: str
    cluster_id: str
    nonce: str
    proof: str

    def to_dict(self) -> dict[str, Any]:
        return {"v": 1, **self.__dict__}

    @classmethod
    def from_dict(cls, d: Any) -> JoinChallenge:
        f = _fields(d, ("node_id", "cluster_id", "nonce", "proof"))
        _check(NODE_ID_RE, f["node_id"], "node_id")
        _check(CLUSTER_ID_RE, f["cluster_id"], "cluster_id")
        _check(_HEX_RE, f["nonce"], "nonce")
        _check(_HEX_RE, f["proof"], "proof")
        return cls(**f)


@dataclass(frozen=True)
class JoinProve:
    """Joiner -> responder (``POST /api/v1/cluster/join/prove``)."""

    node_id: str
    nonce: str  # the joiner's nonce_a, as sent in the hello
    challenge: str  # the responder's nonce_b
    proof: str

    def to_dict(self) -> dict[str, Any]:
        return {"v": 1, **self.__dict__}

    @classmethod
    def from_dict(cls, d: Any) -> JoinProve:
        f = _fields(d, ("node_id", "nonce", "challenge", "proof"))
        _check(NODE_ID_RE, f["node_id"], "node_id")
        for name in ("nonce", "challenge", "proof"):
            _check(_HEX_RE, f[name], name)
        return cls(**f)


@dataclass(frozen=True)
class JoinerState:
    """What the joiner keeps between hello and prove (the hello it sent)."""

    hello: JoinHello


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def new_join_code() -> str:
    """A fresh cluster secret of 140 random bits a person can type (``XXXX-...``)."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(JOIN_CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@functools.lru_cache(maxsize=8)
def derive_key(secret: str, cluster: str) -> bytes:
    """K: the secret stretched with scrypt, salted with the protocol and the
    cluster name. Cached: each side pays the KDF once per secret, not per hello."""
    salt = f"{PROTOCOL} key|{cluster}".encode()
    return hashlib.scrypt(secret.encode(), salt=salt, maxmem=_KDF_MAXMEM, dklen=32, **KDF)


def cert_fingerprint(der: bytes) -> str:
    """SHA-256 hex of a DER certificate: what both sides bind the proofs to."""
    return hashlib.sha256(der).hexdigest()


def start_join(cluster: str, node_id: str, raft_addr: str) -> tuple[JoinHello, JoinerState]:
    """Joiner, step 1: the hello to send (and the state to keep for step 2)."""
    hello = JoinHello(cluster=cluster, node_id=node_id, raft_addr=raft_addr, nonce=new_nonce())
    JoinHello.from_dict(hello.to_dict())  # validate our own fields early
    return hello, JoinerState(hello)


def finish_join(
    secret: str, state: JoinerState, challenge: JoinChallenge, cert_fp: str = ""
) -> JoinProve:
    """Joiner, step 2: check the responder's proof, then return our own.

    ``cert_fp``: ``cert_fingerprint`` of the certificate the responder presented
    on this TLS connection ("" only if both sides agree not to bind). Raises
    HandshakeError if the responder does not know the secret.
    """
    h = state.hello
    if challenge.node_id == h.node_id:
        raise HandshakeError("a host cannot join itself")
    t = _Transcript(
        h.cluster, h.node_id, challenge.node_id, h.nonce, challenge.nonce, cert_fp, h.raft_addr
    )
    if not hmac.compare_digest(t.mac(secret, "responder"), challenge.proof):
        raise HandshakeError(
            f"host {challenge.node_id} could not prove it knows the secret of cluster {h.cluster!r}"
        )
    return JoinProve(h.node_id, h.nonce, challenge.nonce, t.mac(secret, "joiner"))


@dataclass
class _Pending:
    hello: JoinHello
    expires: float


class ChallengeBook:
    """Responder side: answers hellos and verifies proves, each challenge once.

    Bounded (``max_pending``; the oldest is dropped first) so a flood of hellos
    cannot grow memory. Not thread-safe: use it from the event loop.
    """

    def __init__(
        self,
        cluster: str,
        node_id: str,
        cluster_id: str,
        ttl: float = 30.0,
        max_pending: int = 256,
    ) -> None:
        self.cluster, self.node_id, self.cluster_id = cluster, node_id, cluster_id
        self.ttl, self.max_pending = ttl, max_pending
        self._pending: dict[str, _Pending] = {}

    def answer(self, secret: str, hello: JoinHello, now: float, cert_fp: str = "") -> JoinChallenge:
        """Step 1 on the responder: the challenge (with our proof) for a hello."""
        if hello.cluster != self.cluster:
            raise HandshakeError(
                f"this host belongs to cluster {self.cluster!r}, not {hello.cluster!r}"
            )
        if hello.node_id == self.node_id:
            raise HandshakeError("a host cannot join itself")
        self._expire(now)
        while len(self._pending) >= self.max_pending:
            self._pending.pop(next(iter(self._pending)))
        nonce_b = new_nonce()
        self._pending[nonce_b] = _Pending(hello, now + self.ttl)
        t = _Transcript(
            self.cluster,
            hello.node_id,
            self.node_id,
            hello.nonce,
            nonce_b,
            cert_fp,
            hello.raft_addr,
        )
        return JoinChallenge(self.node_id, self.cluster_id, nonce_b, t.mac(secret, "responder"))

    def verify(self, secret: str, prove: JoinProve, now: float, cert_fp: str = "") -> JoinHello:
        """Step 2 on the responder: the hello of a joiner that proved the secret.

        The challenge is consumed whatever the outcome, so a proof can be tried once.
        """
        self._expire(now)
        pending = self._pending.pop(prove.challenge, None)
        if pending is None:
            raise HandshakeError("unknown, used or expired join challenge; start again with hello")
        h = pending.hello
        if prove.node_id != h.node_id or prove.nonce != h.nonce:
            raise HandshakeError("the join proof does not belong to this challenge")
        t = _Transcript(
            self.cluster, h.node_id, self.node_id, h.nonce, prove.challenge, cert_fp, h.raft_addr
        )
        if not hmac.compare_digest(t.mac(secret, "joiner"), prove.proof):
            raise HandshakeError(f"host {h.node_id} could not prove it knows the cluster secret")
        return h

    def _expire(self, now: float) -> None:
        for nonce in [n for n, p in self._pending.items() if p.expires < now]:
            del self._pending[nonce]


@dataclass(frozen=True)
class _Transcript:
    cluster: str
    joiner: str
    responder: str
    nonce_a: str
    nonce_b: str
    cert_fp: str
    raft_addr: str

    def mac(self, secret: str, label: str) -> str:
        if not _FP_RE.match(self.cert_fp):
            raise HandshakeError("certificate fingerprint must be SHA-256 hex or empty")
        key = derive_key(secret, self.cluster)
        fields = (PROTOCOL, label, self.cluster, self.joiner, self.responder, self.nonce_a,
                  self.nonce_b, self.cert_fp, self.raft_addr)  # fmt: skip
        # Length-prefixed so that no choice of field values can make two
        # different transcripts serialize to the same bytes.
        msg = b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)
        return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _fields(d: Any, names: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(d, dict):
        raise HandshakeError("join message must be a JSON object")
    if d.get("v", 1) != 1:
        raise HandshakeError(f"unsupported join protocol version {d.get('v')!r}")
    out: dict[str, str] = {}
    for name in names:
        value = d.get(name)
        if not isinstance(value, str):
            raise HandshakeError(f"join message lacks the string field {name!r}")
        out[name] = value
    return out


def _check(pattern: re.Pattern[str], value: str, name: str) -> None:
    if not pattern.match(value):
        raise HandshakeError(f"join message field {name!r} is malformed")
