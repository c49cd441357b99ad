"""Helpers the resource modules share: record views, lists, paging, consistent reads."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

from peer.api.errors import BadRequest, ConflictError, NotFound, from_store_error
from peer.api.routes import ApiRequest, Reply
from peer.api.schema import Schema
from raft.commands import Record
from raft.errors import StoreError
from raft.store import put

CONSISTENT: Schema = {
    "type": "boolean",
    "default": False,
    "description": "linearizable read: wait for a Raft barrier first",
}
GET_QUERY: dict[str, Schema] = {"consistent": CONSISTENT}
LIST_QUERY: dict[str, Schema] = {
    "consistent": CONSISTENT,
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    "cursor": {"type": "string", "maxLength": 512, "description": "next_cursor of the last page"},
    "q": {"type": "string", "maxLength": 200, "description": "substring of the id or name"},
}
NAME: Schema = {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}
LABELS: Schema = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": 253},
}
Transform = Callable[[str, dict[str, Any]], dict[str, Any]]
# Fields every record view carries.
META_PROPS: dict[str, Schema] = {
    "id": {"type": "string"},
    "version": {"type": "integer"},
    "revision": {"type": "integer"},
}


def record_schema(props: dict[str, Schema], required: Iterable[str] = ()) -> Schema:
    """The schema of one record view: its fields plus id/version/revision."""
    return {
        "type": "object",
        "required": ["id", "version", "revision", *required],
        "properties": {**META_PROPS, **props},
    }


def list_schema(item: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["items", "next_cursor", "revision"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": {"type": ["string", "null"]},
            "revision": {"type": "integer"},
        },
    }


def view(rec: Record, transform: Transform | None = None) -> dict[str, Any]:
    """A record as the API shows it: ``{id, ...fields, version, revision}``;
    ``transform(key, value)`` hides or derives fields (never the password hash)."""
    value = transform(rec.key, rec.value) if transform else dict(rec.value)
    return {"id": rec.key, **value, "version": rec.version, "revision": rec.revision}


async def maybe_barrier(req: ApiRequest) -> None:
    """Honour ``?consistent=true`` with a Raft barrier (linearizable read)."""
    if req.query.get("consistent"):
        try:
            await req.store.barrier()
        except StoreError as e:
            raise from_store_error(e) from None


async def catch_up(req: ApiRequest) -> None:
    """After losing a compare-and-set: a barrier, so the re-read sees the winner's
    write even on a replica that has not applied it yet."""
    try:
        await req.store.barrier(timeout=req.commit_timeout())
    except StoreError as e:
        raise from_store_error(e) from None


def get_or_404(req: ApiRequest, table: str, key: str, what: str) -> Record:
    rec = req.store.get(table, key)
    if rec is None:
        raise NotFound(f"{what} {key!r} does not exist", resource=table, id=key)
    return rec


def one(rec: Record, transform: Transform | None = None, status: int = 200) -> Reply:
    """A single-record reply with its ETag."""
    return Reply(view(rec, transform), status=status, version=rec.version)


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        raw = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(raw, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not one this API issued", code="invalid_cursor") from None


def page(
    req: ApiRequest,
    records: list[Record],
    *,
    keep: Callable[[Record], bool] | None = None,
    transform: Transform | None = None,
    reverse: bool = False,
) -> Reply:
    """Filter, then page ``records`` (sorted by key) with ``limit``/``cursor``.

    The cursor is the last key returned, so paging is stable while records are
    added or removed; ``reverse`` pages newest-first (events, audit).
    """
    q = req.query.get("q")
    items = sorted(records, key=lambda r: r.key, reverse=reverse)
    if q:
        ql = q.lower()
        items = [
            r for r in items if ql in r.key.lower() or ql in str(r.value.get("name", "")).lower()
        ]
    if keep is not None:
        items = [r for r in items if keep(r)]
    cursor = req.query.get("cursor")
    if cursor:
        after = _decode_cursor(cursor)
        items = [r for r in items if (r.key < after if reverse else r.key > after)]
    limit = int(req.query.get("limit", 100))
    chunk = items[:limit]
    nxt = _encode_cursor(chunk[-1].key) if len(items) > limit and chunk else None
    return Reply(
        {
            "items": [view(r, transform) for r in chunk],
            "next_cursor": nxt,
            "revision": req.store.revision,
        }
    )


async def update_record(
    req: ApiRequest,
    table: str,
    key: str,
    what: str,
    mutate: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    event: tuple[str, str, str, str] | None = None,
    extra_ops: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> Record:
    """Read-modify-write one record with compare-and-set on its version.

    With ``If-Match`` the caller's version is the only one tried (412 when stale);
    without it a lost race is retried on the fresh record, because other parts
    (the node itself, the scheduler) write the same records concurrently.
    """
    attempts = 1 if req.http.headers.get("If-Match") else 8
    for i in range(attempts):
        req.commit_timeout()  # a retry after the caller's deadline is not made
        rec = get_or_404(req, table, key, what)
        expect = req.check_if_match(rec.version)
        new = mutate(dict(rec.value))
        ops = [put(table, key, new, expect=expect), *(extra_ops(new) if extra_ops else [])]
        try:
            await req.commit(ops, event=event)
        except ConflictError:
            if i == attempts - 1:
                raise
            await catch_up(req)
            continue
        return get_or_404(req, table, key, what)
    raise AssertionError("unreachable")
