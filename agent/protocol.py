"""The messages inside frames (docs/agent.md has the full table).

Requests go host -> guest, answers guest -> host, one answer per request id::

    {"t": "req", "id": 7, "op": "exec", "args": {...}}
    {"t": "res", "id": 7, "ok": true, "result": {...}}
    {"t": "res", "id": 7, "ok": false, "error": {"code": "...", "message": "..."}}

The host opens with ``hello`` (its protocol versions); the guest answers with
the version both speak, its agent version and its capabilities. Only a request
named in the guest's capabilities is sent afterwards.
"""

from __future__ import annotations

from typing import Any

# Protocol versions this code speaks (message level; the frame has its own).
PROTOCOL_VERSIONS = (1,)
PORT_NAME = "org.quantix.agent.0"

OPS = (
    "hello",
    "ping",
    "info",
    "exec",
    "file_read",
    "file_write",
    "set_password",
    "add_ssh_keys",
    "freeze",
    "thaw",
    "shutdown",
    "reboot",
    "set_time",
)

# Caps the guest applies, and the host checks again on what comes back.
EXEC_OUTPUT_CAP = 256 * 1024
FILE_CAP = 512 * 1024
EXEC_TIMEOUT_MAX_S = 300


def request(rid: int, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"t": "req", "id": rid, "op": op, "args": args or {}}


def ok(rid: int, result: Any) -> dict[str, Any]:
    return {"t": "res", "id": rid, "ok": True, "result": result}


def error(rid: int, code: str, message: str) -> dict[str, Any]:
    return {"t": "res", "id": rid, "ok": False, "error": {"code": code, "message": message}}


def choose_version(ours: tuple[int, ...], theirs: Any) -> int | None:
    """The highest protocol version both speak, or None."""
    if not isinstance(theirs, list):
        return None
    common = set(ours) & {v for v in theirs if isinstance(v, int)}
    return max(common) if common else None
