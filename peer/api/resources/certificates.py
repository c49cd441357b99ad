"""Each member host's API certificate, as the hosts publish it in their node records.

Every peer's ``NodeRecorder`` writes ``tls`` (subject, names, sha256
fingerprint, validity) into its node record, so any peer answers for the whole
cluster from its replica. A host that has not published one (an older version,
or not started yet) is listed with ``published: false``.
"""

from __future__ import annotations

import time
from typing import Any

from peer.api.resources.common import GET_QUERY, maybe_barrier
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role

routes = Routes(tag="cluster")

# Below this many days left the UI warns (and the API says so, for scripts).
EXPIRY_WARNING_DAYS = 30

_NUM = {"type": ["number", "null"]}
_STR = {"type": ["string", "null"]}
CERTIFICATE = {
    "type": "object",
    "required": ["node_id", "published", "status"],
    "properties": {
        "node_id": {"type": "string"},
        "hostname": _STR,
        "address": _STR,
        "published": {"type": "boolean"},
        "subject": _STR,
        "issuer": _STR,
        "san": {"type": "array", "items": {"type": "string"}},
        "sha256": _STR,
        "serial": _STR,
        "not_before": _NUM,
        "not_after": _NUM,
        "days_left": _NUM,
        "self_signed": {"type": ["boolean", "null"]},
        "status": {
            "type": "string",
            "enum": ["ok", "expiring", "expired", "not_yet_valid", "unknown"],
        },
    },
}
CERTIFICATES = {
    "type": "object",
    "required": ["items", "warning_days"],
    "properties": {
        "items": {"type": "array", "items": CERTIFICATE},
        "warning_days": {"type": "integer"},
    },
}


def certificate_view(node_id: str, node: dict[str, Any], now: float) -> dict[str, Any]:
    tls = node.get("tls") if isinstance(node.get("tls"), dict) else None
    out: dict[str, Any] = {
        "node_id": node_id,
        "hostname": node.get("hostname"),
        "address": node.get("address"),
        "published": tls is not None,
    }
    if tls is None:
        return {**out, "san": [], "status": "unknown"}
    after, before = tls.get("not_after"), tls.get("not_before")
    days = round((float(after) - now) / 86400, 1) if after is not None else None
    status = "ok"
    if before is not None and now < float(before):
        status = "not_yet_valid"
    elif days is not None and days <= 0:
        status = "expired"
    elif days is not None and days < EXPIRY_WARNING_DAYS:
        status = "expiring"
    fields = ("subject", "issuer", "sha256", "serial", "not_before", "not_after", "self_signed")
    return {
        **out,
        **{k: tls.get(k) for k in fields},
        "san": [str(s) for s in tls.get("san") or []],
        "days_left": days,
        "status": status,
    }


@routes.get(
    "/cluster/certificates",
    role=Role.VIEWER,
    summary="Each member host's API (TLS) certificate: names, fingerprint, validity",
    query=GET_QUERY,
    response=CERTIFICATES,
)
async def list_certificates(req: ApiRequest) -> Reply:
    """``status`` is ``expiring`` when fewer than ``warning_days`` days are left."""
    await maybe_barrier(req)
    now = time.time()
    items = [certificate_view(r.key, r.value, now) for r in req.store.scan("nodes")]
    return Reply({"items": items, "warning_days": EXPIRY_WARNING_DAYS})
