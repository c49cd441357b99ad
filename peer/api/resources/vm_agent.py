"""The guest agent's capabilities as API calls (docs/agent.md).

Each runs on the VM's host (``vm_status.node``): any other peer forwards the
call there with the caller's own credentials (peer.forward), so the host checks
the same user and role again. Exec and file access are operator calls; each is
audited (the guard's record) and leaves an event naming what was run or touched
(never a password or a file's content). Output and files are capped
(agent.protocol).
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import aiohttp
from aiohttp import web

from agent.protocol import EXEC_OUTPUT_CAP, EXEC_TIMEOUT_MAX_S, FILE_CAP
from hypervisor.errors import HypervisorError
from peer.api.errors import BadRequest, ConflictError, NotFound, Unavailable
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.forward import check_forwardable, forwarded_headers, relay
from peer.vmhost import _api_error, _hosting_node

routes = Routes(tag="vms")

_PASS_HEADERS = ("Authorization", "Cookie", "X-CSRF-Token", "Content-Type")
_OBJ: dict[str, Any] = {"type": "object", "additionalProperties": True}
PATH = {"type": "string", "minLength": 1, "maxLength": 4096, "pattern": "^/.*$"}
USER = {"type": "string", "pattern": "^[a-z_][a-z0-9_.-]{0,31}$"}

EXEC = {
    "type": "object",
    "required": ["command"],
    "properties": {
        "command": {
            "type": "array",
            "minItems": 1,
            "maxItems": 256,
            "items": {"type": "string", "maxLength": 4096},
            "description": 'argv: run directly, no shell (use ["sh", "-c", ...] for one)',
        },
        "stdin": {"type": "string", "maxLength": 65536},
        "timeout_s": {"type": "number", "minimum": 0.1, "maximum": EXEC_TIMEOUT_MAX_S},
    },
    "additionalProperties": False,
}
FILE_READ = {
    "type": "object",
    "required": ["path"],
    "properties": {
        "path": PATH,
        "offset": {"type": "integer", "minimum": 0},
        "max_bytes": {"type": "integer", "minimum": 1, "maximum": FILE_CAP},
    },
    "additionalProperties": False,
}
FILE_WRITE = {
    "type": "object",
    "required": ["path", "data_b64"],
    "properties": {
        "path": PATH,
        "data_b64": {"type": "string", "maxLength": (FILE_CAP * 4) // 3 + 4},
        "mode": {"type": "integer", "minimum": 0, "maximum": 0o7777},
        "append": {"type": "boolean"},
    },
    "additionalProperties": False,
}
PASSWORD = {
    "type": "object",
    "required": ["user", "password"],
    "properties": {"user": USER, "password": {"type": "string", "minLength": 1, "maxLength": 512}},
    "additionalProperties": False,
}
SSH_KEYS = {
    "type": "object",
    "required": ["user", "keys"],
    "properties": {
        "user": USER,
        "keys": {
            "type": "array",
            "minItems": 1,
            "maxItems": 64,
            "items": {"type": "string", "minLength": 16, "maxLength": 16384},
        },
    },
    "additionalProperties": False,
}


async def _here_or_forward(req: ApiRequest, timeout: float) -> web.Response | None:
    """None if this peer hosts the VM; else the host's answer to the same call."""
    vm_id = req.params["vm_id"]
    node = _hosting_node(req, vm_id)
    if node == req.ctx.node_id:
        return None
    check_forwardable(req, node, "the VM")
    headers = forwarded_headers(req, _PASS_HEADERS)
    body = await req.http.read()
    return await relay(
        req, node, "the VM", headers, body or None, aiohttp.ClientTimeout(total=timeout + 15)
    )


async def _call(req: ApiRequest, op: str, args: dict[str, Any], timeout: float) -> Any:
    agents = req.ctx.services.get("agents")
    if agents is None:
        raise Unavailable("this host runs no guest agent client", code="no_hypervisor")
    try:
        return await agents.call(req.params["vm_id"], op, args, timeout)
    except HypervisorError as e:
        raise _api_error(e) from None


async def _note(req: ApiRequest, kind: str, message: str) -> None:
    vm_id = req.params["vm_id"]
    await req.commit([], event=(kind, "vms", vm_id, message))


@routes.get(
    "/vms/{vm_id}/agent/ping",
    role=Role.VIEWER,
    summary="Ping a VM's guest agent through its channel",
    response=_OBJ,
)
async def ping_agent(req: ApiRequest) -> Reply | web.Response:
    """Answers the round-trip time measured on the VM's host."""
    fwd = await _here_or_forward(req, 5)
    if fwd is not None:
        return fwd
    t0 = time.monotonic()
    await _call(req, "ping", {}, 5.0)
    return Reply({"rtt_ms": round((time.monotonic() - t0) * 1000, 3)})


@routes.post(
    "/vms/{vm_id}/agent/exec",
    role=Role.OPERATOR,
    summary="Run a command in a VM's guest through its agent",
    body=EXEC,
    response=_OBJ,
)
async def exec_in_guest(req: ApiRequest) -> Reply | web.Response:
    """Runs ``command`` (argv, no shell) and waits: exit code, stdout and stderr
    (each capped; ``truncated`` says so), ``timed_out`` (the command was killed)."""
    timeout = float(req.body.get("timeout_s") or 30)
    fwd = await _here_or_forward(req, timeout)
    if fwd is not None:
        return fwd
    argv = list(req.body["command"])
    args = {
        "argv": argv,
        "stdin": str(req.body.get("stdin") or "").encode(),
        "timeout_s": timeout,
        "output_cap": EXEC_OUTPUT_CAP,
    }
    res = await _call(req, "exec", args, timeout + 10)
    res = res if isinstance(res, dict) else {}
    out = {
        "exit_code": res.get("exit_code"),
        "stdout": _text(res.get("stdout")),
        "stderr": _text(res.get("stderr")),
        "truncated": bool(res.get("truncated")),
        "timed_out": bool(res.get("timed_out")),
        "duration_s": res.get("duration_s"),
    }
    shown = " ".join(argv)[:200]
    await _note(
        req,
        "vm.agent_exec",
        f"{req.user} ran `{shown}` in the guest: exit {out['exit_code']}"
        + (" (timed out)" if out["timed_out"] else ""),
    )
    return Reply(out)


@routes.post(
    "/vms/{vm_id}/agent/files/read",
    role=Role.OPERATOR,
    summary="Read a file in a VM's guest through its agent",
    body=FILE_READ,
    response=_OBJ,
)
async def read_guest_file(req: ApiRequest) -> Reply | web.Response:
    """At most ``max_bytes`` (and the cap) from ``offset``; ``eof`` says whether more follows."""
    fwd = await _here_or_forward(req, 30)
    if fwd is not None:
        return fwd
    b = req.body
    args = {"path": b["path"], "offset": int(b.get("offset") or 0)}
    args["max_bytes"] = int(b.get("max_bytes") or FILE_CAP)
    res = await _call(req, "file_read", args, 30.0)
    res = res if isinstance(res, dict) else {}
    raw = res.get("data")
    data = raw[: args["max_bytes"]] if isinstance(raw, bytes) else b""
    await _note(req, "vm.agent_file_read", f"{req.user} read {b['path']} ({len(data)} bytes)")
    return Reply(
        {
            "path": b["path"],
            "data_b64": base64.b64encode(data).decode(),
            "size": res.get("size"),
            "offset": args["offset"],
            "eof": bool(res.get("eof")),
        }
    )


@routes.post(
    "/vms/{vm_id}/agent/files/write",
    role=Role.OPERATOR,
    summary="Write a file in a VM's guest through its agent",
    body=FILE_WRITE,
    response=_OBJ,
)
async def write_guest_file(req: ApiRequest) -> Reply | web.Response:
    """Replaces the file whole (written beside it, then renamed), or appends."""
    fwd = await _here_or_forward(req, 30)
    if fwd is not None:
        return fwd
    b = req.body
    try:
        data = base64.b64decode(b["data_b64"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("data_b64 is not base64", code="invalid_base64") from None
    if len(data) > FILE_CAP:
        raise BadRequest(f"at most {FILE_CAP} bytes per write", code="too_large")
    args: dict[str, Any] = {"path": b["path"], "data": data, "append": bool(b.get("append"))}
    if "mode" in b:
        args["mode"] = int(b["mode"])
    res = await _call(req, "file_write", args, 30.0)
    await _note(req, "vm.agent_file_write", f"{req.user} wrote {b['path']} ({len(data)} bytes)")
    return Reply(res if isinstance(res, dict) else {})


@routes.post(
    "/vms/{vm_id}/agent/password",
    role=Role.OPERATOR,
    summary="Set a guest user's password through the agent",
    body=PASSWORD,
    response=_OBJ,
)
async def set_guest_password(req: ApiRequest) -> Reply | web.Response:
    """The password goes to the guest's ``chpasswd``; it is never logged or recorded."""
    fwd = await _here_or_forward(req, 30)
    if fwd is not None:
        return fwd
    args = {"user": req.body["user"], "password": req.body["password"]}
    await _call(req, "set_password", args, 30.0)
    await _note(req, "vm.agent_password", f"{req.user} set the password of {args['user']}")
    return Reply({"user": args["user"]})


@routes.post(
    "/vms/{vm_id}/agent/ssh-keys",
    role=Role.OPERATOR,
    summary="Add SSH authorized keys for a guest user through the agent",
    body=SSH_KEYS,
    response=_OBJ,
)
async def add_guest_ssh_keys(req: ApiRequest) -> Reply | web.Response:
    """Appends the keys not there yet to the user's ``~/.ssh/authorized_keys``."""
    fwd = await _here_or_forward(req, 30)
    if fwd is not None:
        return fwd
    args = {"user": req.body["user"], "keys": list(req.body["keys"])}
    res = await _call(req, "add_ssh_keys", args, 30.0)
    res = res if isinstance(res, dict) else {}
    await _note(
        req,
        "vm.agent_ssh_keys",
        f"{req.user} added {res.get('added')} SSH key(s) for {args['user']}",
    )
    return Reply(res)


@routes.post(
    "/vms/{vm_id}/agent/time-sync",
    role=Role.OPERATOR,
    summary="Step a guest's clock to its host's through the agent",
    response=_OBJ,
)
async def sync_guest_time(req: ApiRequest) -> Reply | web.Response:
    """Done by itself after a resume, a migration and each new agent session."""
    fwd = await _here_or_forward(req, 10)
    if fwd is not None:
        return fwd
    res = await _call(req, "set_time", {"time": time.time()}, 10.0)
    return Reply(res if isinstance(res, dict) else {})


def _text(v: Any) -> str:
    return v.decode("utf-8", errors="replace") if isinstance(v, bytes) else ""


AGENT_ISO = {
    "type": "object",
    "required": ["pool"],
    "properties": {"pool": {"type": "string", "minLength": 1}},
    "additionalProperties": False,
}


@routes.post(
    "/images/agent-iso",
    role=Role.OPERATOR,
    summary="Add the guest agent's ISO to the image library",
    body=AGENT_ISO,
    response=_OBJ,
    status=201,
    also=(200,),
)
async def add_agent_iso(req: ApiRequest) -> Reply:
    """Writes ``quantix-agent-<version>.iso`` (the .deb, the wheel, install.sh)
    into the pool on this host and registers it as an ``iso`` image, ready to
    attach as a VM's CD-ROM. Again for the same pool: the existing image."""
    import asyncio
    import hashlib
    import secrets

    from peer.agent.iso import ISO_NAME, agent_iso
    from peer.storage_roots import PathRefused, pool_dir
    from raft.store import put

    name = req.body["pool"]
    pool = req.store.get("pools", name)
    if pool is None:
        raise NotFound(f"no pool {name}")
    nodes = pool.value.get("nodes") or []
    if not pool.value.get("shared") and nodes and req.ctx.node_id not in nodes:
        raise ConflictError(
            f"pool {name} is not on this host: ask one of {nodes}", code="wrong_host"
        )
    for r in req.store.scan("images"):
        if r.value.get("pool") == name and r.value.get("name") == ISO_NAME:
            return Reply({"id": r.key, **r.value}, status=200)
    try:  # this host's own pool roots say where the pool is, not the record
        where = pool_dir(req.ctx.config.roots, pool.value, name)
    except PathRefused as e:
        raise ConflictError(e.message, code=e.code) from None
    data = await asyncio.to_thread(agent_iso)
    path = where / ISO_NAME
    await asyncio.to_thread(_write, path, data)
    image_id = secrets.token_hex(6)
    value = {
        "name": ISO_NAME,
        "kind": "iso",
        "pool": name,
        "path": str(path),
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "source_url": None,
        "state": "ready",
        "node": None if pool.value.get("shared") else req.ctx.node_id,
    }
    await req.commit(
        [put("images", image_id, value, expect=None)],
        event=("image.created", "images", image_id, f"the guest agent ISO added to {name}"),
    )
    return Reply({"id": image_id, **value}, status=201)


def _write(path: Any, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
