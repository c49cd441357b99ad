"""What only the VM's host can answer: its serial log and its snapshots.

These live on the host that runs the VM (libvirt's snapshot metadata, the serial
log file), not in the cluster state. Any peer serves the routes: the hosting
peer (``vm_status.node``) calls its driver; another peer forwards the request to
it with the caller's own credentials, so the host authenticates and authorizes
the same user again and no peer-to-peer trust is added.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from hypervisor.errors import ConnectionFailed, HypervisorError
from peer.api.errors import ApiError, ConflictError, NotFound, Unavailable
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.forward import check_forwardable, forwarded_headers, relay

log = logging.getLogger("peer.vmhost")
T = TypeVar("T")

routes = Routes(tag="vms")

_PASS_HEADERS = ("Authorization", "Cookie", "X-CSRF-Token")

_OBJ: dict[str, Any] = {"type": "object", "additionalProperties": True}
SNAPSHOT_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
SNAPSHOT_CREATE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": SNAPSHOT_NAME,
        "description": {"type": "string", "maxLength": 500},
        "quiesce": {
            "type": "boolean",
            "default": False,
            "description": "freeze the guest's file systems through its agent (hooks run)",
        },
    },
    "additionalProperties": False,
}
SERIAL = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "offset": {"type": "integer"},
        "next_offset": {"type": "integer"},
        "size": {"type": "integer"},
    },
    "additionalProperties": True,
}
SNAPSHOTS = {"type": "object", "properties": {"items": {"type": "array", "items": _OBJ}}}


def _hosting_node(req: ApiRequest, vm_id: str) -> str:
    vm = req.store.get("vms", vm_id)
    if vm is None:
        raise NotFound(f"no VM {vm_id}")
    st = req.store.get("vm_status", vm_id)
    node = (st.value.get("node") if st is not None else None) or vm.value.get("placement")
    if not node:
        raise ConflictError("the VM is not placed on any host yet", code="not_placed")
    return str(node)


def _api_error(e: HypervisorError) -> ApiError:
    """Driver errors keep their code; failures of the host itself are a 409
    (the host could not do it now), never a 500 to the user."""
    err = ApiError(str(e), code=e.code)
    if isinstance(e, ConnectionFailed):
        err.status = 503
    else:
        err.status = e.status if 400 <= e.status < 500 else 409
    return err


async def _on_host(
    req: ApiRequest, vm_id: str, call: Callable[[Any], T], status: int = 200
) -> Reply | web.Response:
    """Run ``call(driver)`` here if this peer hosts the VM, else forward."""
    node = _hosting_node(req, vm_id)
    if node != req.ctx.node_id:
        return await _forward(req, node)
    driver = req.ctx.services.get("driver")
    if driver is None:
        raise Unavailable("this host runs no hypervisor driver", code="no_hypervisor")
    try:
        result: Any = await asyncio.to_thread(call, driver)
    except HypervisorError as e:
        raise _api_error(e) from None
    if result is None:
        return Reply(None, status=204)
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    if isinstance(result, list):
        result = {"items": result}
    return Reply(result, status=status)


async def _forward(req: ApiRequest, node: str) -> web.Response:
    check_forwardable(req, node, "the VM")
    headers = forwarded_headers(req, _PASS_HEADERS)
    body = await req.http.read()
    if body:
        headers["Content-Type"] = req.http.headers.get("Content-Type", "application/json")
    return await relay(req, node, "the VM", headers, body or None, aiohttp.ClientTimeout(total=60))


@routes.get(
    "/vms/{vm_id}/serial",
    role=Role.VIEWER,
    summary="Read a VM's serial console log (from its host)",
    query={
        "offset": {"type": "integer", "default": -65536},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1048576, "default": 65536},
    },
    response=SERIAL,
)
async def read_serial(req: ApiRequest) -> Reply | web.Response:
    """A negative offset reads from the end of the log."""
    vm_id = req.params["vm_id"]
    offset, limit = int(req.query["offset"]), int(req.query["limit"])
    return await _on_host(req, vm_id, lambda d: d.read_serial_log(vm_id, offset, limit))


@routes.get(
    "/vms/{vm_id}/snapshots",
    role=Role.VIEWER,
    summary="List a VM's snapshots",
    response=SNAPSHOTS,
)
async def list_snapshots(req: ApiRequest) -> Reply | web.Response:
    vm_id = req.params["vm_id"]
    return await _on_host(req, vm_id, lambda d: d.snapshot_list(vm_id))


@routes.post(
    "/vms/{vm_id}/snapshots",
    role=Role.OPERATOR,
    summary="Take a snapshot of a VM (disks and, when running, memory)",
    body=SNAPSHOT_CREATE,
    response=_OBJ,
    status=201,
)
async def create_snapshot(req: ApiRequest) -> Reply | web.Response:
    """``quiesce``: the guest agent runs the pre-freeze hooks and freezes the
    file systems for the snapshot, then thaws them and runs the post-thaw hooks
    (refused with ``agent_not_connected`` when there is no agent)."""
    vm_id, body = req.params["vm_id"], req.body
    if body.get("quiesce"):
        return await _quiesced_snapshot(req, vm_id, body)
    return await _on_host(
        req,
        vm_id,
        lambda d: d.snapshot_create(vm_id, body["name"], body.get("description", "")),
        status=201,
    )


async def _quiesced_snapshot(
    req: ApiRequest, vm_id: str, body: dict[str, Any]
) -> Reply | web.Response:
    from peer.agent.quiesce import quiesced

    node = _hosting_node(req, vm_id)
    if node != req.ctx.node_id:
        return await _forward(req, node)
    driver, agents = req.ctx.services.get("driver"), req.ctx.services.get("agents")
    if driver is None or agents is None:
        raise Unavailable("this host runs no hypervisor driver", code="no_hypervisor")
    try:
        snap, how = await quiesced(
            agents,
            vm_id,
            lambda: driver.snapshot_create(vm_id, body["name"], body.get("description", "")),
        )
    except HypervisorError as e:
        raise _api_error(e) from None
    out = snap.to_dict() if hasattr(snap, "to_dict") else dict(snap)
    return Reply({**out, "quiesce": how}, status=201)


@routes.post(
    "/vms/{vm_id}/snapshots/{name}/revert",
    role=Role.OPERATOR,
    summary="Revert a VM to a snapshot",
    response=_OBJ,
)
async def revert_snapshot(req: ApiRequest) -> Reply | web.Response:
    vm_id, name = req.params["vm_id"], req.params["name"]
    return await _on_host(req, vm_id, lambda d: d.snapshot_revert(vm_id, name))


@routes.delete(
    "/vms/{vm_id}/snapshots/{name}",
    role=Role.OPERATOR,
    summary="Delete a VM's snapshot",
    status=204,
)
async def delete_snapshot(req: ApiRequest) -> Reply | web.Response:
    vm_id, name = req.params["vm_id"], req.params["name"]
    return await _on_host(req, vm_id, lambda d: d.snapshot_delete(vm_id, name))
