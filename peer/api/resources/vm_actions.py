"""VM actions: they set the desired state and/or create a task, and answer 202.

The hosting peer's reconciler does the real work and reports it in
``vm_status`` and in the task (``state``, ``progress``); clients follow the task.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from peer.api.errors import ConflictError, ValidationFailed
from peer.api.resources.common import get_or_404, update_record
from peer.api.resources.tasks import TASK, new_task, task_op
from peer.api.resources.vms import observed_state
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.vmconsole import console_websocket, is_websocket

routes = Routes(tag="vms")

MIGRATE = {
    "type": "object",
    "properties": {
        "node": {
            "type": "string",
            "minLength": 1,
            "description": "target; default: scheduler's choice",
        },
        "live": {"type": "boolean", "default": True},
    },
}
CONSOLE = {
    "type": "object",
    "required": ["vm", "node"],
    "properties": {
        "vm": {"type": "string"},
        "node": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "console": {"type": ["object", "null"]},
    },
}

# action → (new desired state or None to keep it, extra VM fields)
ACTIONS: dict[str, tuple[str | None, dict[str, Any], str]] = {
    "start": ("running", {}, "Start a VM"),
    "shutdown": ("stopped", {"stop_mode": "graceful"}, "Shut a VM down through its guest (ACPI)"),
    "stop": ("stopped", {"stop_mode": "force"}, "Power a VM off at once"),
    "reboot": (None, {}, "Reboot a VM"),
    "pause": ("paused", {}, "Pause a VM's vCPUs"),
    "resume": ("running", {}, "Resume a paused VM"),
}


async def _act(
    req: ApiRequest,
    kind: str,
    desired: str | None,
    extra: dict[str, Any],
    params: dict[str, Any] | None = None,
) -> Reply:
    vm_id = req.params["vm_id"]
    rec = get_or_404(req, "vms", vm_id, "VM")
    if kind == "reboot" and rec.value.get("desired") != "running":
        raise ConflictError("only a running VM can be rebooted", code="vm_not_running")
    if (
        kind == "resume"
        and observed_state(req.store, vm_id) != "paused"
        and rec.value.get("desired") != "paused"
    ):
        raise ConflictError("the VM is not paused", code="vm_not_paused")
    tid, task = new_task(kind, f"vms/{vm_id}", rec.value.get("placement"), req.user, params)

    def mutate(v: dict[str, Any]) -> dict[str, Any]:
        if desired is not None:
            v["desired"] = desired
        v.update(extra)
        v["last_task"] = tid
        return v

    name = rec.value.get("name")
    await update_record(
        req,
        "vms",
        vm_id,
        "VM",
        mutate,
        extra_ops=lambda _v: [task_op(tid, task)],
        event=(f"vm.{kind}", "vms", vm_id, f"{kind} requested for VM {name}"),
    )
    t = get_or_404(req, "tasks", tid, "task")
    return Reply({"id": tid, **t.value, "version": t.version, "revision": t.revision}, status=202)


def _make(kind: str, desired: str | None, extra: dict[str, Any], summary: str) -> None:
    async def handler(req: ApiRequest) -> Reply:
        return await _act(req, kind, desired, extra)

    handler.__name__ = f"{kind}_vm"
    handler.__doc__ = f"{summary}. Answers the task to follow (202)."
    routes.post(
        f"/vms/{{vm_id}}/{kind}", role=Role.OPERATOR, summary=summary, response=TASK, status=202
    )(handler)


for _kind, (_desired, _extra, _summary) in ACTIONS.items():
    _make(_kind, _desired, _extra, _summary)


@routes.post(
    "/vms/{vm_id}/migrate",
    role=Role.OPERATOR,
    summary="Move a VM to another host",
    body=MIGRATE,
    response=TASK,
    status=202,
)
async def migrate_vm(req: ApiRequest) -> Reply:
    """Creates a ``migrate`` task; the leader's scheduler commits the new placement
    and the two peers move the VM."""
    target = req.body.get("node")
    if target is not None:
        node = get_or_404(req, "nodes", target, "node")
        if node.value.get("state", "active") != "active":
            raise ValidationFailed(
                f"node {target} is {node.value.get('state')}", code="node_unavailable"
            )
        vm = get_or_404(req, "vms", req.params["vm_id"], "VM")
        if vm.value.get("placement") == target:
            raise ConflictError(f"the VM already runs on {target}", code="already_there")
    return await _act(
        req, "migrate", None, {}, {"target": target, "live": req.body.get("live", True)}
    )


@routes.get(
    "/vms/{vm_id}/console",
    role=Role.OPERATOR,
    summary="Where to reach a VM's console",
    response=CONSOLE,
)
async def console_vm(req: ApiRequest) -> Reply | web.StreamResponse:
    """The hosting peer and its console endpoints (VNC socket, serial log).

    With ``Upgrade: websocket`` (subprotocol ``binary``, as noVNC offers) the
    answer is the console itself, relayed through whichever peer was asked
    (peer/vmconsole.py)."""
    vm_id = req.params["vm_id"]
    rec = get_or_404(req, "vms", vm_id, "VM")
    if is_websocket(req):
        return await console_websocket(req, vm_id)
    st = req.store.get("vm_status", vm_id)
    node = (st.value.get("node") if st else None) or rec.value.get("placement")
    if st is None or not st.value.get("console"):
        raise ConflictError("the VM has no console yet: is it running?", code="no_console")
    n = req.store.get("nodes", str(node)) if node else None
    return Reply(
        {
            "vm": vm_id,
            "node": node,
            "address": n.value.get("address") if n else None,
            "console": st.value.get("console"),
        }
    )
