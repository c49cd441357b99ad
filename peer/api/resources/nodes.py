"""Hosts: list and inspect them, maintenance mode, labels, removal."""

from __future__ import annotations

from typing import Any

from peer.api.errors import ConflictError
from peer.api.resources.common import (
    GET_QUERY,
    LABELS,
    LIST_QUERY,
    get_or_404,
    list_schema,
    maybe_barrier,
    one,
    page,
    record_schema,
    update_record,
)
from peer.api.resources.hooks import call_hook
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role

routes = Routes(tag="nodes")

NODE_STATES = ["active", "maintenance", "removed"]
NODE = record_schema(
    {
        "hostname": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "api_port": {"type": ["integer", "null"]},
        "state": {"type": ["string", "null"]},
        "labels": {"type": ["object", "null"]},
        "resources": {"type": ["object", "null"]},
        "voter": {"type": ["boolean", "null"]},
        "leaving": {
            "type": ["boolean", "null"],
            "description": "leaving the cluster: VMs move off, then it returns to factory state",
        },
        "conditions": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "string"},
            "description": "what is wrong with the host, {type: message}: cannot_run_vms "
            "and disk_full keep new VMs away",
        },
    }
)
NODE_PATCH = {
    "type": "object",
    "properties": {
        "maintenance": {"type": "boolean", "description": "drain new placements; HA skips it"},
        "labels": LABELS,
    },
}


@routes.get(
    "/nodes",
    role=Role.VIEWER,
    summary="List hosts",
    query={**LIST_QUERY, "state": {"type": "string", "enum": NODE_STATES}},
    response=list_schema(NODE),
)
async def list_nodes(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    state = req.query.get("state")
    return page(
        req,
        req.store.scan("nodes"),
        keep=lambda r: state is None or r.value.get("state", "active") == state,
    )


@routes.get(
    "/nodes/{node_id}", role=Role.VIEWER, summary="Get a host", query=GET_QUERY, response=NODE
)
async def get_node(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return one(get_or_404(req, "nodes", req.params["node_id"], "node"))


@routes.patch(
    "/nodes/{node_id}",
    role=Role.OPERATOR,
    summary="Set maintenance mode or labels",
    body=NODE_PATCH,
    response=NODE,
)
async def update_node(req: ApiRequest) -> Reply:
    nid = req.params["node_id"]
    body = req.body

    def mutate(v: dict[str, Any]) -> dict[str, Any]:
        if v.get("state") == "removed":
            raise ConflictError(f"node {nid} has been removed", code="node_removed")
        if "maintenance" in body:
            v["state"] = "maintenance" if body["maintenance"] else "active"
            if not body["maintenance"]:
                v.pop("leaving", None)  # maintenance off calls a pending leave off
        if "labels" in body:
            v["labels"] = body["labels"]
        return v

    what = "maintenance on" if body.get("maintenance") else "updated"
    rec = await update_record(
        req,
        "nodes",
        nid,
        "node",
        mutate,
        event=("node.updated", "nodes", nid, f"node {nid} {what}"),
    )
    return one(rec)


@routes.post(
    "/nodes/{node_id}/leave",
    role=Role.ADMIN,
    summary="Have a host leave the cluster, its VMs moved off first",
    status=202,
    response=NODE,
)
async def leave_node(req: ApiRequest) -> Reply:
    """Marks the host ``leaving`` (and in maintenance, so its VMs are moved to
    other hosts). The host itself then waits until none is left, is removed from
    the cluster and starts again in factory state (peer/leave.py). Any peer
    takes the request, also the leaving host's own console."""
    nid = req.params["node_id"]

    def mutate(v: dict[str, Any]) -> dict[str, Any]:
        if v.get("state") == "removed":
            raise ConflictError(f"node {nid} has been removed", code="node_removed")
        return {**v, "state": "maintenance", "leaving": True}

    rec = await update_record(
        req,
        "nodes",
        nid,
        "node",
        mutate,
        event=("node.leaving", "nodes", nid, f"node {nid} is leaving the cluster"),
    )
    return one(rec, status=202)


@routes.delete(
    "/nodes/{node_id}",
    role=Role.ADMIN,
    summary="Remove a host from the cluster",
    status=202,
    response={"type": "object"},
)
async def remove_node(req: ApiRequest) -> Reply:
    """Calls the daemon's ``remove_node`` service (Raft membership change); the
    host's VMs are re-placed by the scheduler."""
    nid = req.params["node_id"]
    get_or_404(req, "nodes", nid, "node")
    if nid == req.ctx.node_id:
        raise ConflictError("a peer cannot remove itself; ask another peer", code="remove_self")
    await call_hook(req.ctx, "remove_node", nid)
    await req.commit([], event=("node.removing", "nodes", nid, f"removing node {nid}"))
    return Reply({"node_id": nid, "status": "removing"}, status=202)
