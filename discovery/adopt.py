"""Handing the cluster secret to an adopted factory-state host. Pure.

An admin adopts a factory host through an authenticated API call on a member;
the member then calls the factory host's adoption endpoint over HTTPS with the
body made by ``wrap_secret``. The secret travels only inside that TLS body —
never in mDNS, a URL or a log line (``AdoptPayload``'s repr hides it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from discovery.errors import SecretWrapError
from discovery.model import CLUSTER_ID_RE, CLUSTER_NAME_RE, NODE_ID_RE

MIN_SECRET_LEN: Final = 12


@dataclass(frozen=True)
class AdoptPayload:
    cluster_name: str
    cluster_id: str
    sponsor: str  # node id of the member that adopts this host (join it first)
    secret: str = field(repr=False)


def wrap_secret(p: AdoptPayload) -> dict[str, Any]:
    """The JSON body of the adoption call (validated)."""
    unwrap_secret(body := {"v": 1, **p.__dict__})
    return body


def unwrap_secret(body: Any) -> AdoptPayload:
    """Parse and validate an adoption body, or raise SecretWrapError."""
    if not isinstance(body, dict) or body.get("v") != 1:
        raise SecretWrapError("adoption body must be a version-1 JSON object")
    vals = {k: body.get(k) for k in ("cluster_name", "cluster_id", "sponsor", "secret")}
    if not all(isinstance(v, str) for v in vals.values()):
        raise SecretWrapError("adoption body lacks cluster_name, cluster_id, sponsor or secret")
    p = AdoptPayload(**{k: str(v) for k, v in vals.items()})
    if not CLUSTER_NAME_RE.match(p.cluster_name):
        raise SecretWrapError("adoption body has an invalid cluster name")
    if not CLUSTER_ID_RE.match(p.cluster_id) or not NODE_ID_RE.match(p.sponsor):
        raise SecretWrapError("adoption body has an invalid cluster id or sponsor")
    if len(p.secret) < MIN_SECRET_LEN or not p.secret.isprintable():
        raise SecretWrapError(f"the cluster secret must be {MIN_SECRET_LEN}+ printable characters")
    return p
