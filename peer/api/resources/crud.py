"""Declaring the five CRUD routes of a simple resource (pools, volumes, images,
networks) from one description, so they behave alike: same paging, ETags,
If-Match, events, in-use refusals."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from peer.api.errors import AlreadyExists, ConflictError
from peer.api.resources.common import (
    GET_QUERY,
    LIST_QUERY,
    get_or_404,
    list_schema,
    maybe_barrier,
    one,
    page,
    record_schema,
    update_record,
)
from peer.api.routes import ApiRequest, Handler, Reply, Routes
from peer.api.schema import Schema
from peer.auth.roles import Role
from raft.store import Store, delete, put

Prepare = Callable[[ApiRequest, dict[str, Any]], dict[str, Any]]


@dataclass
class Resource:
    """What differs between simple resources."""

    table: str
    singular: str  # "pool"
    plural: str  # "pools" (the path)
    props: dict[str, Schema]  # the record's fields, for the response schema
    create: Schema
    patch: Schema | None = None
    # Key from the body's "name" (unique by construction) or a random id.
    keyed_by_name: bool = True
    # Turn a validated create body into the record (cross-checks raise ApiError).
    prepare: Prepare = lambda req, body: dict(body)
    # Check a patch against the current record: (req, current, patch) -> new record.
    apply_patch: Callable[[ApiRequest, dict[str, Any], dict[str, Any]], dict[str, Any]] = (
        lambda req, cur, body: {**cur, **body}
    )
    # Why the record cannot be deleted now (e.g. "used by VM web-1"), or None.
    in_use: Callable[[Store, str], str | None] = lambda store, key: None
    filters: dict[str, Schema] = field(default_factory=dict)  # ?field=value on list
    role: Role = Role.OPERATOR


def _named(fn: Callable[[ApiRequest], Awaitable[Any]], name: str, doc: str) -> Handler:
    fn.__name__ = name
    fn.__doc__ = doc
    return fn


def declare(routes: Routes, res: Resource) -> None:
    """Declare list/create/get/(patch)/delete routes for ``res`` on ``routes``."""
    rec_schema = record_schema(res.props)
    base, item = f"/{res.plural}", f"/{res.plural}/{{{res.singular}_id}}"
    pid = f"{res.singular}_id"

    async def list_(req: ApiRequest) -> Reply:
        await maybe_barrier(req)
        want = {k: req.query[k] for k in res.filters if req.query.get(k) is not None}
        return page(
            req,
            req.store.scan(res.table),
            keep=lambda r: all(r.value.get(k) == v for k, v in want.items()),
        )

    routes.get(
        base,
        role=Role.VIEWER,
        summary=f"List {res.plural}",
        query={**LIST_QUERY, **res.filters},
        response=list_schema(rec_schema),
    )(_named(list_, f"list_{res.plural}", f"List {res.plural}, filtered and paged."))

    async def create(req: ApiRequest) -> Reply:
        value = res.prepare(req, dict(req.body))
        value.setdefault("created_at", time.time())
        key = req.body["name"] if res.keyed_by_name else secrets.token_hex(6)
        if res.keyed_by_name and req.store.get(res.table, key) is not None:
            raise AlreadyExists(f"{res.singular} {key!r} already exists", id=key)
        try:
            await req.commit(
                [put(res.table, key, value, expect="absent")],
                event=(
                    f"{res.singular}.created",
                    res.table,
                    key,
                    f"{res.singular} {value.get('name', key)} created",
                ),
            )
        except ConflictError:
            raise AlreadyExists(f"{res.singular} {key!r} already exists", id=key) from None
        return one(get_or_404(req, res.table, key, res.singular), status=201)

    routes.post(
        base,
        role=res.role,
        summary=f"Create a {res.singular}",
        body=res.create,
        response=rec_schema,
        status=201,
    )(_named(create, f"create_{res.singular}", f"Create a {res.singular}."))

    async def get(req: ApiRequest) -> Reply:
        await maybe_barrier(req)
        return one(get_or_404(req, res.table, req.params[pid], res.singular))

    routes.get(
        item,
        role=Role.VIEWER,
        summary=f"Get a {res.singular}",
        query=GET_QUERY,
        response=rec_schema,
    )(_named(get, f"get_{res.singular}", f"Get a {res.singular}."))

    if res.patch is not None:

        async def patch(req: ApiRequest) -> Reply:
            key = req.params[pid]
            rec = await update_record(
                req,
                res.table,
                key,
                res.singular,
                lambda v: res.apply_patch(req, v, req.body),
                event=(f"{res.singular}.updated", res.table, key, f"{res.singular} {key} updated"),
            )
            return one(rec)

        routes.patch(
            item,
            role=res.role,
            summary=f"Change a {res.singular}",
            body=res.patch,
            response=rec_schema,
        )(_named(patch, f"update_{res.singular}", "Send If-Match to refuse lost updates (412)."))

    async def delete_(req: ApiRequest) -> None:
        key = req.params[pid]
        rec = get_or_404(req, res.table, key, res.singular)
        expect = req.check_if_match(rec.version)
        why = res.in_use(req.store, key)
        if why is not None:
            raise ConflictError(f"{res.singular} {key} is in use: {why}", code="in_use")
        await req.commit(
            [delete(res.table, key, expect=expect)],
            event=(
                f"{res.singular}.deleted",
                res.table,
                key,
                f"{res.singular} {rec.value.get('name', key)} deleted",
            ),
        )

    routes.delete(item, role=res.role, summary=f"Delete a {res.singular}", status=204)(
        _named(delete_, f"delete_{res.singular}", f"Delete a {res.singular} (not while in use).")
    )
