"""Helpers shared by commands: resolving names, waiting on tasks, parsing sizes."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from peer.cli.client import ApiClient
from peer.cli.errors import EXIT_USAGE, CliError
from peer.cli.output import Progress

FINISHED = ("done", "failed", "cancelled")


async def resolve(client: ApiClient, collection: str, ref: str) -> dict[str, Any]:
    """A record by id, or else by exact name (VMs, volumes, images have ids)."""
    try:
        return dict(await client.get(f"/{collection}/{ref}"))
    except CliError as e:
        if e.status != 404:
            raise
    matches = [r for r in await client.get_all(f"/{collection}", q=ref) if r.get("name") == ref]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(
            f"no {collection[:-1]} named or with id {ref!r}", status=404, code="not_found"
        )
    raise CliError(f"{len(matches)} {collection} are named {ref!r}; use the id")


def parse_mib(text: str) -> int:
    """``512``, ``512M``, ``2G``, ``2GiB`` → MiB."""
    m = re.fullmatch(r"(\d+)\s*([mMgGtT]?)(i?[bB])?", text.strip())
    if not m:
        raise CliError(f"cannot read {text!r} as a size (e.g. 512M, 2G)", exit_code=EXIT_USAGE)
    n, unit = int(m.group(1)), m.group(2).upper()
    return n * {"": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]


def parse_gib(text: str) -> int:
    mib = parse_mib(text if re.search(r"[a-zA-Z]", text) else text + "G")
    if mib % 1024:
        raise CliError(f"disk sizes are whole GiB, not {text!r}", exit_code=EXIT_USAGE)
    return mib // 1024


async def wait_task(client: ApiClient, task_id: str, timeout: float, label: str) -> dict[str, Any]:
    """Follow a task with a progress bar until it finishes; CliError if it failed,
    was cancelled, or did not finish in time."""
    bar = Progress(label)
    deadline = time.monotonic() + timeout
    try:
        while True:
            t = await client.get(f"/tasks/{task_id}")
            bar.update(float(t.get("progress") or 0.0), str(t.get("state")))
            if t.get("state") in FINISHED:
                break
            if time.monotonic() > deadline:
                raise CliError(
                    f"task {task_id} is still {t.get('state')} after {timeout:.0f}s "
                    f"(follow it with 'quantix task wait {task_id}')"
                )
            await asyncio.sleep(0.5)  # polling interval, not a wait for a condition
    finally:
        bar.done()
    if t["state"] != "done":
        raise CliError(f"task {task_id} {t['state']}: {t.get('error') or 'no reason given'}")
    return dict(t)
