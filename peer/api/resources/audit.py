"""The audit trail: every mutating call, who made it, from where, and its result."""

from __future__ import annotations

from peer.api.resources.common import LIST_QUERY, list_schema, maybe_barrier, page, record_schema
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from raft.commands import Record

routes = Routes(tag="audit")

AUDIT = record_schema(
    {
        "ts": {"type": "number"},
        "user": {"type": "string"},
        "action": {"type": "string"},
        "resource": {"type": ["string", "null"]},
        "remote": {"type": ["string", "null"]},
        "result": {"type": "string"},
    },
    required=["ts", "user", "action", "result"],
)
FILTERS = {"user": {"type": "string", "maxLength": 100}, "result": {"type": "string"}}


@routes.get(
    "/audit",
    role=Role.ADMIN,
    summary="The audit trail, newest first",
    query={**LIST_QUERY, **FILTERS},
    response=list_schema(AUDIT),
)
async def list_audit(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    want = {k: req.query[k] for k in FILTERS if req.query.get(k) is not None}

    def keep(r: Record) -> bool:
        return all(r.value.get(k) == v for k, v in want.items())

    return page(req, req.store.scan("audit"), keep=keep, reverse=True)
