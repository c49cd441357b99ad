"""The cluster as a whole: name, leader, members, health; discovered hosts to adopt."""

from __future__ import annotations

import time
from typing import Any

from peer.api.errors import BadRequest, ConflictError, Forbidden, NotFound
from peer.api.resources.common import (
    GET_QUERY,
    LIST_QUERY,
    get_or_404,
    list_schema,
    maybe_barrier,
    page,
    record_schema,
)
from peer.api.resources.hooks import call_hook
from peer.api.resources.observed import silent_hosts, status_view
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from raft.store import put

routes = Routes(tag="cluster")

MEMBER = {
    "type": "object",
    "properties": {
        "node_id": {"type": "string"},
        "hostname": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "state": {"type": ["string", "null"]},
        "leader": {"type": "boolean"},
        "voter": {"type": ["boolean", "null"]},
        "lease_age_s": {"type": ["number", "null"]},
    },
}
CLUSTER = {
    "type": "object",
    "required": ["name", "leader", "members", "health", "revision"],
    "properties": {
        "name": {"type": ["string", "null"]},
        "created_at": {"type": ["number", "null"]},
        "leader": {"type": ["string", "null"]},
        "term": {"type": ["integer", "null"]},
        "members": {"type": "array", "items": MEMBER},
        "split_brain": {
            "type": ["object", "null"],
            "description": "another instance of this cluster's name is on the network and "
            "this side should give way (action move: it is rejoining by itself; report: it "
            "runs VMs, an admin chooses with POST /cluster/rejoin)",
            "properties": {
                "action": {"type": "string", "enum": ["move", "report"]},
                "into": {"type": "string"},
                "reason": {"type": "string"},
            },
        },
        "health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["healthy", "degraded", "no_quorum"]},
                "has_quorum": {"type": "boolean"},
                "nodes_total": {"type": "integer"},
                "nodes_active": {"type": "integer"},
                "vms_total": {"type": "integer"},
                "vms_running": {"type": "integer"},
                "vms_error": {"type": "integer"},
            },
        },
        "revision": {"type": "integer"},
    },
}
DISCOVERED = record_schema(
    {
        "hostname": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "api_port": {"type": ["integer", "null"]},
        "cert_fp": {"type": ["string", "null"]},
        "seen_at": {"type": ["number", "null"]},
    }
)
ADOPT_REQUEST = {
    "type": "object",
    "properties": {
        "pairing_code": {
            "type": "string",
            "maxLength": 40,
            "description": "the code the host shows on its console (XXXX-XXXX-XXXX-XXXX)",
        }
    },
    "additionalProperties": False,
}
ADOPT = {
    "type": "object",
    "required": ["node_id", "status"],
    "properties": {"node_id": {"type": "string"}, "status": {"type": "string"}},
}
PEER = {"type": "object", "required": ["node_id"], "properties": {"node_id": {"type": "string"}}}


def cluster_view(req: ApiRequest) -> dict[str, Any]:
    store = req.store
    st = store.status()
    now = time.time()
    nodes = {r.key: r.value for r in store.scan("nodes")}
    leases = {r.key: r.value for r in store.scan("leases")}
    # The Raft layer names members by their Raft address; users know node ids.
    by_addr = {str(v["raft_addr"]): k for k, v in nodes.items() if v.get("raft_addr")}
    leader = st.get("leader")
    leader = by_addr.get(str(leader), leader) if leader is not None else None
    raft_members = {by_addr.get(str(m), str(m)) for m in st.get("members") or []}
    ids = sorted(set(nodes) | raft_members)
    members = []
    for nid in ids:
        n = nodes.get(nid, {})
        renewed = leases.get(nid, {}).get("renewed_at")
        members.append(
            {
                "node_id": nid,
                "hostname": n.get("hostname"),
                "address": n.get("address"),
                "state": n.get("state"),
                "leader": nid == leader,
                "voter": n.get("voter"),
                "lease_age_s": round(now - float(renewed), 3) if renewed is not None else None,
            }
        )
    silent = silent_hosts(req)
    status = {
        r.key: (status_view(r.value, silent) or {}).get("state") for r in store.scan("vm_status")
    }
    vms = store.scan("vms")
    quorum = bool(st.get("has_quorum", True))
    active = sum(1 for n in nodes.values() if n.get("state", "active") == "active")
    health = "no_quorum" if not quorum else ("healthy" if active == len(nodes) else "degraded")
    meta = store.get("meta", "cluster")
    return {
        "name": (meta.value.get("name") if meta else None) or req.ctx.config.cluster_name,
        "created_at": meta.value.get("created_at") if meta else None,
        "leader": leader,
        "term": st.get("term"),
        "members": members,
        "health": {
            "status": health,
            "has_quorum": quorum,
            "nodes_total": len(nodes),
            "nodes_active": active,
            "vms_total": len(vms),
            "vms_running": sum(1 for v in vms if status.get(v.key) == "running"),
            "vms_error": sum(1 for v in vms if status.get(v.key) == "error"),
        },
        "revision": store.revision,
        "split_brain": _split_brain(req),
    }


def _split_brain(req: ApiRequest) -> dict[str, Any] | None:
    healer = req.ctx.services.get("heal")
    if healer is None:
        return None
    found: dict[str, Any] | None = healer.status()["split_brain"]
    return found


@routes.get(
    "/cluster",
    role=Role.VIEWER,
    summary="The cluster: name, leader, members, health",
    query=GET_QUERY,
    response=CLUSTER,
)
async def get_cluster(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return Reply(cluster_view(req))


@routes.get(
    "/peer", role=Role.VIEWER, summary="This peer's own status (the one you talk to)", response=PEER
)
async def get_peer(req: ApiRequest) -> Reply:
    st = req.ctx.status()
    pairing = req.ctx.services.get("pairing")
    if req.principal.via == "local" and pairing is not None:
        # Only for the console (the root-only local socket) of a factory host.
        st["pairing_code"] = getattr(pairing, "code", None)
    return Reply(st)


@routes.get(
    "/cluster/discovered",
    role=Role.VIEWER,
    summary="Hosts in factory state seen on the LAN, ready to adopt",
    query=LIST_QUERY,
    response=list_schema(DISCOVERED),
)
async def list_discovered(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return page(req, req.store.scan("discovered"))


@routes.post(
    "/cluster/discovered/{node_id}/adopt",
    role=Role.ADMIN,
    summary="Adopt a discovered host into this cluster (with the pairing code on its console)",
    body=ADOPT_REQUEST,
    response=ADOPT,
    status=202,
)
async def adopt_host(req: ApiRequest) -> Reply:
    """Calls the daemon's ``adopt`` service (``await adopt(node_id, record, code)``),
    which proves the pairing code to the host before it sends it anything (403
    ``pairing_required``/``pairing_refused`` without the right code); the host
    joins asynchronously and appears under /nodes when it has joined."""
    nid = req.params["node_id"]
    code = (req.body or {}).get("pairing_code")
    if not code:
        raise Forbidden(
            "adopting a host needs the pairing code shown on its console",
            code="pairing_required",
        )
    rec = get_or_404(req, "discovered", nid, "discovered host")
    await call_hook(req.ctx, "adopt", nid, dict(rec.value), str(code))
    await req.commit([], event=("node.adopting", "nodes", nid, f"adopting {nid}"))
    return Reply({"node_id": nid, "status": "adopting"}, status=202)


REJOIN = {
    "type": "object",
    "required": ["cluster_id"],
    "properties": {"cluster_id": {"type": "string", "minLength": 1, "maxLength": 64}},
    "additionalProperties": False,
}
REJOINING = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "into": {"type": "string"}},
}


@routes.post(
    "/cluster/rejoin",
    role=Role.ADMIN,
    summary="Split brain: make this side rejoin another instance of the cluster's name",
    body=REJOIN,
    response=REJOINING,
    status=202,
)
async def rejoin_instance(req: ApiRequest) -> Reply:
    """Commits ``meta/rejoin``; every host of this side then leaves it and joins
    instance ``cluster_id`` (peer/heal.py), setting this side's state aside under
    ``<data_dir>/left-<id>-<time>``. Refused while VMs run here (they would be
    lost to the cluster that joins), or when that instance is not on the network."""
    from discovery.bootstrap import instances
    from peer.heal import REJOIN_KEY, running_vms

    disc = req.ctx.services.get("discovery")
    into = str(req.body["cluster_id"])
    if disc is None or not disc.me.cluster_id:
        raise ConflictError("this host is not in a cluster", code="not_member")
    if into == disc.me.cluster_id:
        raise BadRequest("that is this side's own cluster id", code="same_instance")
    if into not in instances(disc.me, disc.hosts()):
        raise NotFound(
            f"no instance {into} of cluster {disc.me.cluster_name!r} is visible on this network",
            code="instance_not_found",
        )
    running = running_vms(req.store)
    if running:
        raise ConflictError(
            f"{running} VM(s) run on this side: stop or move them before it rejoins another "
            "instance (its cluster state would be set aside)",
            code="vms_running",
        )
    await req.commit(
        [put("meta", REJOIN_KEY, {"into": into, "by": req.user, "at": time.time()})],
        event=("cluster.rejoining", "cluster", into, f"this side rejoins instance {into}"),
        level="warning",
    )
    return Reply({"status": "rejoining", "into": into}, status=202)
