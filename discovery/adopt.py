"""Handing the cluster secret to an adopted factory-state host. Pure.

An admin adopts a factory host through an authenticated API call on a member,
with the pairing code shown on that host's console; the member proves the code
(discovery/pairing.py) and only then calls the factory host's adoption
endpoint, on a connection pinned to the certificate that proved the code, with
the body made by ``wrap_secret``. The secret travels only inside that TLS
body — never in mDNS, a URL or a log line (``AdoptPayload``'s repr hides it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from discovery.errors import PairingError, SecretWrapError
from discovery.model import CLUSTER_ID_RE, CLUSTER_NAME_RE, NODE_ID_RE
from discovery.pairing import Adoption

MIN_SECRET_LEN: Final = 12
_HEX64: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class AdoptPayload:
    cluster_name: str
    cluster_id: str
    sponsor: str  # node id of the member that adopts this host (join it first)
    sponsor_fp: str  # SHA-256 hex of the sponsor's API certificate (pin it when joining)
    secret: str = field(repr=False)

    @property
    def adoption(self) -> Adoption:
        return Adoption(self.cluster_name, self.cluster_id, self.sponsor, self.sponsor_fp)


def wrap_secret(p: AdoptPayload, challenge: str, proof: str) -> dict[str, Any]:
    """The JSON body of the adoption call (validated): the payload and the
    adopter's proof of the pairing code for ``challenge`` (the factory's nonce)."""
    body = {"v": 2, **p.__dict__, "challenge": challenge, "proof": proof}
    unwrap_secret(body)
    return body


def unwrap_secret(body: Any) -> tuple[AdoptPayload, str, str]:
    """(payload, challenge, proof) of an adoption body. PairingError (403) when
    the pairing proof is missing; SecretWrapError (400) when a field is malformed."""
    if not isinstance(body, dict):
        raise SecretWrapError("adoption body must be a JSON object")
    challenge, proof = body.get("challenge"), body.get("proof")
    if body.get("v") != 2 or not isinstance(challenge, str) or not isinstance(proof, str):
        raise PairingError(
            "adoption needs the pairing code shown on this host's console "
            "(adopt it through a cluster member with that code)"
        )
    if not _HEX64.match(challenge) or not _HEX64.match(proof):
        raise PairingError("the pairing challenge and proof must be 64 hex characters")
    names = ("cluster_name", "cluster_id", "sponsor", "sponsor_fp", "secret")
    vals = {k: body.get(k) for k in names}
    if not all(isinstance(v, str) for v in vals.values()):
        raise SecretWrapError(f"adoption body lacks one of {', '.join(names)}")
    p = AdoptPayload(**{k: str(v) for k, v in vals.items()})
    if not CLUSTER_NAME_RE.match(p.cluster_name):
        raise SecretWrapError("adoption body has an invalid cluster name")
    if not CLUSTER_ID_RE.match(p.cluster_id) or not NODE_ID_RE.match(p.sponsor):
        raise SecretWrapError("adoption body has an invalid cluster id or sponsor")
    if not _HEX64.match(p.sponsor_fp):
        raise SecretWrapError("adoption body has an invalid sponsor certificate fingerprint")
    if len(p.secret) < MIN_SECRET_LEN or not p.secret.isprintable():
        raise SecretWrapError(f"the cluster secret must be {MIN_SECRET_LEN}+ printable characters")
    return p, challenge, proof
