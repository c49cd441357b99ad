"""task and event commands."""

from __future__ import annotations

import argparse
import json

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, group, leaf
from peer.cli.commands.common import wait_task
from peer.cli.output import col, emit, when

TASK_COLUMNS = [
    col("id", "id"),
    col("kind", "kind"),
    col("resource", "resource"),
    col("node", "node"),
    col("state", "state"),
    col("progress", lambda t: f"{int(float(t.get('progress') or 0) * 100)}%"),
    col("error", "error"),
]
EVENT_COLUMNS = [
    col("when", lambda e: when(e.get("ts"))),
    col("level", "level"),
    col("kind", "kind"),
    col("resource", lambda e: f"{e.get('resource')}/{e.get('resource_id')}"),
    col("node", "node"),
    col("user", "user"),
    col("message", "message"),
]


async def task_list(args: argparse.Namespace, c: ApiClient) -> None:
    page = await c.get("/tasks", state=args.state, limit=args.limit)
    emit(page["items"], args.output, TASK_COLUMNS)


async def task_show(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.get(f"/tasks/{args.task}"), args.output)


async def task_cancel(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.post(f"/tasks/{args.task}/cancel"), args.output)


async def task_wait(args: argparse.Namespace, c: ApiClient) -> None:
    t = await wait_task(c, args.task, args.timeout, f"task {args.task}")
    emit(t, args.output) if args.output == "json" else print(f"task {args.task}: {t['state']}")


async def event_list(args: argparse.Namespace, c: ApiClient) -> None:
    page = await c.get("/events", kind=args.kind, limit=args.limit)
    emit(list(reversed(page["items"])), args.output, EVENT_COLUMNS)


async def event_watch(args: argparse.Namespace, c: ApiClient) -> None:
    """Runs until interrupted; resumes from the last revision if the stream drops."""
    async for ev in c.events(args.from_revision, args.kind):
        if args.output == "json":
            print(json.dumps(ev, sort_keys=True), flush=True)
        else:
            print(
                f"{when(ev.get('ts'))}  {ev.get('level', 'info'):<7} {ev.get('kind'):<18} "
                f"{ev.get('message')}",
                flush=True,
            )
        if args.count is not None:
            args.count -= 1
            if args.count <= 0:
                return


def register(sub: Sub) -> None:
    g = group(sub, "task", "Long operations and their progress", aliases=["tasks"])
    p = leaf(g, "list", "Recent tasks", task_list)
    p.add_argument("--state")
    p.add_argument("--limit", type=int, default=50)
    leaf(g, "show", "Show a task", task_show).add_argument("task")
    leaf(g, "cancel", "Ask a task to stop", task_cancel).add_argument("task")
    p = leaf(g, "wait", "Follow a task with a progress bar", task_wait)
    p.add_argument("task")
    p.add_argument("--timeout", type=float, default=600.0)

    g = group(sub, "event", "Cluster events", aliases=["events"])
    p = leaf(g, "list", "Recent events", event_list)
    p.add_argument("--kind")
    p.add_argument("--limit", type=int, default=50)
    p = leaf(g, "watch", "Stream events live", event_watch)
    p.add_argument("--kind")
    p.add_argument("--from-revision", dest="from_revision", type=int)
    p.add_argument("--count", type=int, help="stop after this many events")
