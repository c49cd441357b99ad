"""Pairing a factory-state host with the code on its console. Pure.

A factory host F makes a pairing code (``new_pairing_code``: 16 characters of
Crockford's base32, 80 bits) and shows it on its console and in its log; it
announces its certificate's fingerprint on mDNS as a hint. A person reads the
code off F's screen and gives it to a member M (UI, CLI or API). Then:

    M                                                  F (factory host)
    reads F's certificate fp on a first TLS connection
    hello  {nonce_m}                          ->   (pinned to fp from here on)
           <-  {node_id=F, nonce_f, proof_f = MAC(factory | F, fp, nonce_m, nonce_f)}
    M checks proof_f: the host behind fp knows the code, so fp is F's certificate
    adopt  {cluster, secret, sponsor, sponsor_fp, nonce_f, proof_m}   ->
           proof_m = MAC(adopter | F, fp, nonce_m, nonce_f, cluster, cluster id,
                         sponsor, sponsor_fp)
    F checks proof_m (someone who read its screen sent this), keeps the secret.

MAC = HMAC-SHA256 keyed with scrypt(code, salt = protocol | F's node id) (the
same cost as the join key), over length-prefixed fields. So:

* the cluster secret goes only to the certificate that proved the code, on a
  connection pinned to it: a man in the middle shows another certificate and
  gets nothing (it cannot make proof_f for its own fp without the code);
* a relayed hello fails too: proof_f is bound to F's real fp, which the relay
  does not show;
* a captured or solicited proof lets nobody test codes offline cheaply (80
  bits, each guess costs the KDF), and F answers each source's hellos at a
  limited rate, so guessing online is hopeless too;
* without the code (or with a wrong one), F refuses the adoption and nothing
  changes; each challenge is single-use and expires.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from discovery.errors import PairingError
from discovery.handshake import KDF, new_nonce

PROTOCOL: Final = "quantix-pair-v1"
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS: Final = 16
# What a person may type for each character (Crockford: O is 0, I and L are 1).
_TYPED: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_RE: Final = re.compile(rf"^[{_ALPHABET}]{{{CODE_CHARS}}}$")
_HEX64: Final = re.compile(r"^[0-9a-f]{64}$")
_KDF_MAXMEM: Final = 64 * 1024 * 1024


def new_pairing_code() -> str:
    """A fresh code, shown as ``XXXX-XXXX-XXXX-XXXX`` (80 bits)."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalize_code(code: str) -> str:
    """The code as typed (any case, dashes, spaces, O for 0) -> its 16 characters;
    PairingError when it cannot be a pairing code."""
    raw = re.sub(r"[\s-]", "", code).upper().translate(_TYPED)
    if not _CODE_RE.match(raw):
        raise PairingError(f"a pairing code is {CODE_CHARS} letters and digits (XXXX-XXXX-...)")
    return raw


@functools.lru_cache(maxsize=8)
def pairing_key(code: str, factory_id: str) -> bytes:
    """The code stretched with scrypt (cached: each side pays it once)."""
    salt = f"{PROTOCOL} key|{factory_id}".encode()
    return hashlib.scrypt(
        normalize_code(code).encode(), salt=salt, maxmem=_KDF_MAXMEM, dklen=32, **KDF
    )


@dataclass(frozen=True)
class Adoption:
    """What the adopter binds its proof to (and F acts on)."""

    cluster_name: str
    cluster_id: str
    sponsor: str
    sponsor_fp: str


def mac(
    key: bytes,
    label: str,
    factory_id: str,
    fp: str,
    nonce_m: str,
    nonce_f: str,
    adoption: Adoption | None = None,
) -> str:
    """One proof: ``label`` is ``factory`` or ``adopter`` (no reflection)."""
    for name, value in (("fingerprint", fp), ("nonce", nonce_m), ("nonce", nonce_f)):
        if not _HEX64.match(value):
            raise PairingError(f"pairing {name} must be 64 hex characters")
    fields = [PROTOCOL, label, factory_id, fp, nonce_m, nonce_f]
    if adoption is not None:
        fields += [
            adoption.cluster_name,
            adoption.cluster_id,
            adoption.sponsor,
            adoption.sponsor_fp,
        ]
    msg = b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


@dataclass
class _Pending:
    nonce_m: str
    expires: float


class PairingBook:
    """F's side: answers hellos with its proof, checks an adopter's proof once.

    Bounded (``max_pending``, oldest dropped first) and single-use; use it from
    the event loop only. ``key`` is ``pairing_key(code, factory_id)``.
    """

    def __init__(
        self, factory_id: str, fp: str, key: bytes, ttl: float = 60.0, max_pending: int = 64
    ) -> None:
        self.factory_id, self.fp, self.key = factory_id, fp, key
        self.ttl, self.max_pending = ttl, max_pending
        self._pending: dict[str, _Pending] = {}

    def answer(self, nonce_m: str, now: float) -> tuple[str, str]:
        """A hello: (nonce_f, proof_f)."""
        if not _HEX64.match(nonce_m):
            raise PairingError("pairing nonce must be 64 hex characters")
        self._expire(now)
        while len(self._pending) >= self.max_pending:
            self._pending.pop(next(iter(self._pending)))
        nonce_f = new_nonce()
        self._pending[nonce_f] = _Pending(nonce_m, now + self.ttl)
        return nonce_f, mac(self.key, "factory", self.factory_id, self.fp, nonce_m, nonce_f)

    def verify(self, nonce_f: str, proof: str, adoption: Adoption, now: float) -> None:
        """The adopter's proof, or PairingError (the challenge is used up either way)."""
        self._expire(now)
        pending = self._pending.pop(nonce_f, None)
        if pending is None:
            raise PairingError("unknown, used or expired pairing challenge: start again")
        want = mac(
            self.key, "adopter", self.factory_id, self.fp, pending.nonce_m, nonce_f, adoption
        )
        if not hmac.compare_digest(want, proof):
            raise PairingError("wrong pairing code: read it again from the host's console")

    def _expire(self, now: float) -> None:
        for n in [n for n, p in self._pending.items() if p.expires < now]:
            del self._pending[n]


def check_factory_proof(
    key: bytes, factory_id: str, fp: str, nonce_m: str, nonce_f: str, proof: str
) -> None:
    """M's side: the host behind ``fp`` knows the code, or PairingError."""
    if not hmac.compare_digest(mac(key, "factory", factory_id, fp, nonce_m, nonce_f), proof):
        raise PairingError(
            "the host did not prove it shows this pairing code: the code is wrong, or "
            "something else answers at its address"
        )
