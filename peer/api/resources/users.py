"""Users: admins manage them; anyone may change their own password."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from peer.api.errors import AlreadyExists, ConflictError, Forbidden, ValidationFailed
from peer.api.resources.auth import throttle_of
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
from peer.auth.passwords import ahash_password, averify_password
from peer.auth.roles import ROLE_NAMES, Role
from peer.auth.users import public_user, user_value
from raft.store import delete, put

routes = Routes(tag="users")


def _viewer(req: ApiRequest) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """A user as the API shows it, with the login locks this peer holds for them
    (failed logins are counted per peer and never replicated: docs/security.md)."""
    throttle = throttle_of(req)
    now = time.time()

    def view(name: str, value: dict[str, Any]) -> dict[str, Any]:
        return dict(public_user(name, value), locked_until=throttle.locked_until(name, now))

    return view


USERNAME = {"type": "string", "pattern": "^[a-z_][a-z0-9_.-]{0,31}$"}
PASSWORD = {"type": "string", "minLength": 8, "maxLength": 1024}
ROLE = {"type": "string", "enum": ROLE_NAMES}
USER = record_schema(
    {
        "name": {"type": "string"},
        "role": ROLE,
        "failed_logins": {"type": "integer"},
        "locked_until": {"type": ["number", "null"]},
        "created_at": {"type": ["number", "null"]},
    },
    required=["name", "role"],
)
USER_CREATE = {
    "type": "object",
    "required": ["name", "role", "password"],
    "properties": {"name": USERNAME, "role": ROLE, "password": PASSWORD},
}
USER_PATCH = {"type": "object", "properties": {"role": ROLE}}
PASSWORD_CHANGE = {
    "type": "object",
    "required": ["new_password"],
    "properties": {
        "current_password": {"type": "string", "maxLength": 1024},
        "new_password": PASSWORD,
    },
}


def _admins(req: ApiRequest) -> list[str]:
    return [r.key for r in req.store.scan("users") if r.value.get("role") == "admin"]


@routes.get(
    "/users", role=Role.ADMIN, summary="List users", query=LIST_QUERY, response=list_schema(USER)
)
async def list_users(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return page(req, req.store.scan("users"), transform=_viewer(req))


@routes.post(
    "/users", role=Role.ADMIN, summary="Create a user", body=USER_CREATE, response=USER, status=201
)
async def create_user(req: ApiRequest) -> Reply:
    name = req.body["name"]
    if req.store.get("users", name) is not None:
        raise AlreadyExists(f"user {name!r} already exists", id=name)
    value = user_value(Role.parse(req.body["role"]), await ahash_password(req.body["password"]))
    try:
        await req.commit(
            [put("users", name, value, expect="absent")],
            event=("user.created", "users", name, f"user {name} created"),
        )
    except ConflictError:
        raise AlreadyExists(f"user {name!r} already exists", id=name) from None
    return one(get_or_404(req, "users", name, "user"), _viewer(req), status=201)


@routes.get(
    "/users/{name}",
    role=Role.VIEWER,
    summary="Get a user (admins: anyone; others: self)",
    query=GET_QUERY,
    response=USER,
)
async def get_user(req: ApiRequest) -> Reply:
    name = req.params["name"]
    if name != req.user and req.principal.role < Role.ADMIN:
        raise Forbidden("only admins may look at other users")
    await maybe_barrier(req)
    return one(get_or_404(req, "users", name, "user"), _viewer(req))


@routes.patch(
    "/users/{name}", role=Role.ADMIN, summary="Change a user's role", body=USER_PATCH, response=USER
)
async def update_user(req: ApiRequest) -> Reply:
    name = req.params["name"]
    rec = get_or_404(req, "users", name, "user")
    expect = req.check_if_match(rec.version)
    new = dict(rec.value)
    if "role" in req.body:
        if (
            rec.value.get("role") == "admin"
            and req.body["role"] != "admin"
            and len(_admins(req)) == 1
        ):
            raise ConflictError("the last admin cannot be demoted", code="last_admin")
        new["role"] = req.body["role"]
    await req.commit(
        [put("users", name, new, expect=expect)],
        event=("user.updated", "users", name, f"user {name} is now {new['role']}"),
    )
    return one(get_or_404(req, "users", name, "user"), _viewer(req))


@routes.delete(
    "/users/{name}", role=Role.ADMIN, summary="Delete a user and their tokens", status=204
)
async def delete_user(req: ApiRequest) -> None:
    name = req.params["name"]
    rec = get_or_404(req, "users", name, "user")
    if rec.value.get("role") == "admin" and len(_admins(req)) == 1:
        raise ConflictError("the last admin cannot be deleted", code="last_admin")
    expect = req.check_if_match(rec.version)
    ops = [delete("users", name, expect=expect)]
    ops += [
        delete("tokens", t.key) for t in req.store.scan("tokens") if t.value.get("user") == name
    ]
    ops += [
        delete("sessions", s.key) for s in req.store.scan("sessions") if s.value.get("user") == name
    ]
    await req.commit(ops, event=("user.deleted", "users", name, f"user {name} deleted"))


@routes.post(
    "/users/{name}/password",
    role=Role.VIEWER,
    summary="Change a password",
    body=PASSWORD_CHANGE,
    status=204,
)
async def change_password(req: ApiRequest) -> None:
    """Users change their own (with ``current_password``); admins anyone's. Every
    session of that user ends."""
    name = req.params["name"]
    is_admin = req.principal.role >= Role.ADMIN
    if name != req.user and not is_admin:
        raise Forbidden("only admins may change other users' passwords")
    rec = get_or_404(req, "users", name, "user")
    if name == req.user and req.principal.via != "local":
        current = req.body.get("current_password")
        if current is None or not await averify_password(current, str(rec.value["password_hash"])):
            raise ValidationFailed("current_password is wrong", code="wrong_password")
    new = dict(
        rec.value,
        password_hash=await ahash_password(req.body["new_password"]),
        failed_logins=0,
        locked_until=None,
    )
    ops = [put("users", name, new, expect=rec.version)]
    ops += [
        delete("sessions", s.key) for s in req.store.scan("sessions") if s.value.get("user") == name
    ]
    # A changed password ends every way in that the old one gave: the sessions
    # above, and the user's API tokens (kept, revoked, for the audit trail).
    now = time.time()
    ops += [
        put("tokens", t.key, dict(t.value, revoked=True, revoked_at=now), expect=t.version)
        for t in req.store.scan("tokens")
        if t.value.get("user") == name and not t.value.get("revoked")
    ]
    await req.commit(ops, event=("user.password", "users", name, f"password of {name} changed"))


@routes.post(
    "/users/{name}/unlock", role=Role.ADMIN, summary="Unlock a locked account", response=USER
)
async def unlock_user(req: ApiRequest) -> Reply:
    name = req.params["name"]
    rec = get_or_404(req, "users", name, "user")
    # Every peer lifts the locks it holds from before this time (peer.auth.throttle).
    new = dict(rec.value, failed_logins=0, locked_until=None, unlocked_at=time.time())
    throttle_of(req).unlock(name)
    await req.commit(
        [put("users", name, new, expect=rec.version)],
        event=("user.unlocked", "users", name, f"{name} unlocked"),
    )
    return one(get_or_404(req, "users", name, "user"), _viewer(req))
