"""API tokens: scoped (role ≤ the creator's), expiring, revocable on every peer."""

from __future__ import annotations

import time
from typing import Any

from peer.api.errors import Forbidden, NotFound
from peer.api.resources.common import (
    GET_QUERY,
    LIST_QUERY,
    get_or_404,
    list_schema,
    maybe_barrier,
    one,
    page,
    record_schema,
)
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import ROLE_NAMES, Role
from peer.auth.tokens import make_token, public_view
from raft.commands import Record
from raft.store import delete, put

routes = Routes(tag="tokens")

TOKEN_PROPS: dict[str, Any] = {
    "user": {"type": "string"},
    "role": {"type": "string", "enum": ROLE_NAMES},
    "scopes": {"type": "array", "items": {"type": "string"}},
    "name": {"type": "string"},
    "created_at": {"type": "number"},
    "created_by": {"type": "string"},
    "expires_at": {"type": ["number", "null"]},
    "revoked": {"type": "boolean"},
}
TOKEN = record_schema(TOKEN_PROPS, required=["user", "role", "revoked"])
NEW_TOKEN = record_schema(
    {**TOKEN_PROPS, "token": {"type": "string", "description": "shown once; store it now"}},
    required=["token", "user", "role"],
)
TOKEN_CREATE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "role": {"type": "string", "enum": ROLE_NAMES, "description": "default: yours"},
        "ttl_s": {"type": "integer", "minimum": 60, "maximum": 10 * 365 * 86400},
        "user": {"type": "string", "description": "admins only: a token for another user"},
    },
}


DEAD_KEEP_S = 7 * 86400


def _long_dead(value: dict[str, Any], user: str) -> bool:
    if value.get("user") != user:
        return False
    cutoff = time.time() - DEAD_KEEP_S
    ended = value.get("revoked_at") if value.get("revoked") else value.get("expires_at")
    return isinstance(ended, (int, float)) and ended < cutoff


def _hide(key: str, value: dict[str, Any]) -> dict[str, Any]:
    out = public_view(key, value)
    out.pop("id", None)
    return out


def _visible(req: ApiRequest, rec: Record) -> bool:
    return req.principal.role >= Role.ADMIN or rec.value.get("user") == req.user


@routes.get(
    "/tokens",
    role=Role.VIEWER,
    summary="List tokens (yours; admins: all)",
    query=LIST_QUERY,
    response=list_schema(TOKEN),
)
async def list_tokens(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return page(req, req.store.scan("tokens"), keep=lambda r: _visible(req, r), transform=_hide)


@routes.post(
    "/tokens",
    role=Role.VIEWER,
    summary="Create an API token",
    body=TOKEN_CREATE,
    response=NEW_TOKEN,
    status=201,
)
async def create_token(req: ApiRequest) -> Reply:
    """The token (``qx_<id>_<secret>``) is in the answer only; the cluster keeps a
    hash. Its role is at most the creator's; ``ttl_s`` makes it expire."""
    user = req.body.get("user", req.user)
    if user != req.user and req.principal.role < Role.ADMIN:
        raise Forbidden("only admins may create tokens for other users")
    # The owner must be a real user (over the local socket, name one with "user").
    owner = get_or_404(req, "users", user, "user")
    ceiling = min(req.principal.role, Role.parse(str(owner.value.get("role"))))
    role = Role.parse(req.body["role"]) if "role" in req.body else ceiling
    if role > ceiling:
        raise Forbidden(f"a token's role cannot exceed {ceiling.label}", code="role_too_high")
    tok = make_token(user, role, req.body["name"], req.body.get("ttl_s"), created_by=req.user)
    ops = [put("tokens", tok.id, tok.value, expect="absent")]
    # Every CLI or web login makes a token; drop this user's long-dead ones so the
    # table stays small (revoked or expired more than a week ago).
    ops += [delete("tokens", t.key) for t in req.store.scan("tokens") if _long_dead(t.value, user)]
    await req.commit(
        ops,
        event=("token.created", "tokens", tok.id, f"token {tok.id} for {user}"),
    )
    rec = get_or_404(req, "tokens", tok.id, "token")
    reply = one(rec, _hide, status=201)
    reply.body["token"] = tok.token
    return reply


def _own_token(req: ApiRequest, tid: str) -> Record:
    rec = get_or_404(req, "tokens", tid, "token")
    if not _visible(req, rec):
        # Someone else's token looks like a missing one: ids are not secrets,
        # but there is no reason to confirm them.
        raise NotFound(f"token {tid!r} does not exist", resource="tokens", id=tid)
    return rec


@routes.get(
    "/tokens/{token_id}",
    role=Role.VIEWER,
    summary="Get a token's metadata",
    query=GET_QUERY,
    response=TOKEN,
)
async def get_token(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return one(_own_token(req, req.params["token_id"]), _hide)


@routes.delete("/tokens/{token_id}", role=Role.VIEWER, summary="Revoke a token", status=204)
async def revoke_token(req: ApiRequest) -> None:
    """The token stops working on every peer once the revocation is committed;
    the record stays (revoked) for the audit trail."""
    tid = req.params["token_id"]
    rec = _own_token(req, tid)
    if rec.value.get("revoked"):
        return
    expect = req.check_if_match(rec.version)
    await req.commit(
        [put("tokens", tid, dict(rec.value, revoked=True, revoked_at=time.time()), expect=expect)],
        event=("token.revoked", "tokens", tid, f"token {tid} revoked"),
    )
