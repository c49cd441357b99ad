"""Tasks: long operations (VM actions, migrations) with progress, and cancel."""

from __future__ import annotations

import secrets
import time
from typing import Any

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
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from raft.commands import Record
from raft.store import put

routes = Routes(tag="tasks")

TASK_STATES = ["pending", "running", "done", "failed", "cancelled"]
FINISHED = ("done", "failed", "cancelled")
TASK = record_schema(
    {
        "kind": {"type": "string"},
        "resource": {"type": "string"},
        "node": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": TASK_STATES},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "cancel": {"type": "boolean"},
        "error": {"type": ["string", "null"]},
        "params": {"type": "object"},
        "result": {
            "type": ["object", "null"],
            "description": "what the work measured (a live migration: seconds, downtime_ms)",
        },
        "user": {"type": ["string", "null"]},
        "created_at": {"type": "number"},
    },
    required=["kind", "resource", "state", "progress"],
)


def new_task(
    kind: str, resource: str, node: str | None, user: str, params: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """A pending task; the peer that does the work moves it along
    (``running`` with ``progress``, then ``done``/``failed``) and honours ``cancel``."""
    now = time.time()
    tid = f"{int(now * 1000):013d}-{secrets.token_hex(3)}"
    return tid, {
        "kind": kind,
        "resource": resource,
        "node": node,
        "state": "pending",
        "progress": 0.0,
        "cancel": False,
        "error": None,
        "params": params or {},
        "user": user,
        "created_at": now,
        "updated_at": now,
    }


def task_op(tid: str, value: dict[str, Any]) -> dict[str, Any]:
    return put("tasks", tid, value, expect="absent")


@routes.get(
    "/tasks",
    role=Role.VIEWER,
    summary="List tasks, newest first",
    query={
        **LIST_QUERY,
        "state": {"type": "string", "enum": TASK_STATES},
        "node": {"type": "string"},
    },
    response=list_schema(TASK),
)
async def list_tasks(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    state, node = req.query.get("state"), req.query.get("node")

    def keep(r: Record) -> bool:
        return (state is None or r.value.get("state") == state) and (
            node is None or r.value.get("node") == node
        )

    return page(req, req.store.scan("tasks"), keep=keep, reverse=True)


@routes.get(
    "/tasks/{task_id}",
    role=Role.VIEWER,
    summary="Get a task and its progress",
    query=GET_QUERY,
    response=TASK,
)
async def get_task(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return one(get_or_404(req, "tasks", req.params["task_id"], "task"))


@routes.post(
    "/tasks/{task_id}/cancel",
    role=Role.OPERATOR,
    summary="Ask a task to stop",
    response=TASK,
    status=202,
)
async def cancel_task(req: ApiRequest) -> Reply:
    """Sets ``cancel``; a pending task is cancelled at once, a running one when
    the peer doing it notices. A finished task is left as it is."""
    tid = req.params["task_id"]
    rec = get_or_404(req, "tasks", tid, "task")
    if rec.value.get("state") in FINISHED:
        return one(rec, status=202)

    def mutate(v: dict[str, Any]) -> dict[str, Any]:
        v["cancel"] = True
        if v.get("state") == "pending":
            v["state"] = "cancelled"
        v["updated_at"] = time.time()
        return v

    rec = await update_record(
        req,
        "tasks",
        tid,
        "task",
        mutate,
        event=("task.cancel", "tasks", tid, f"task {tid} cancel requested"),
    )
    return one(rec, status=202)
