"""The API about itself: health (open), the OpenAPI document, its docs page, metrics."""

from __future__ import annotations

from aiohttp import web

from peer.api.docs_page import DOCS_HTML
from peer.api.keys import METRICS_KEY, OPENAPI_KEY
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.metrics import CONTENT_TYPE, ApiMetrics

routes = Routes(tag="meta")
root_routes = Routes(tag="meta", prefix="")

HEALTH = {
    "type": "object",
    "required": ["status", "node_id", "version", "raft_role", "has_quorum", "revision"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "node_id": {"type": "string"},
        "version": {"type": "string"},
        "raft_role": {"type": ["string", "null"]},
        "has_quorum": {"type": "boolean"},
        "revision": {"type": "integer"},
        "cluster_id": {"type": "string"},
        "leader": {"type": ["string", "null"]},
        "nodes": {"type": "integer"},
    },
}


@routes.get(
    "/health",
    role=None,
    summary="Is this peer up, and does the cluster have quorum?",
    response=HEALTH,
)
async def get_health(req: ApiRequest) -> Reply:
    """Open to anyone (load balancers, the console): no names, no secrets. The
    cluster id and the leader's Raft address are on mDNS anyway; with the
    number of nodes they tell whether hosts are in one and the same cluster."""
    st = req.store.status()
    quorum = bool(st.get("has_quorum", True))
    meta = req.store.get("meta", "cluster")
    return Reply(
        {
            "status": "ok" if quorum else "degraded",
            "node_id": req.ctx.node_id,
            "version": req.ctx.version,
            "raft_role": st.get("role"),
            "has_quorum": quorum,
            "revision": req.store.revision,
            "cluster_id": str(meta.value.get("id", "")) if meta else "",
            "leader": st.get("leader"),
            "nodes": req.store.count("nodes"),
        }
    )


@routes.get(
    "/openapi.json",
    role=Role.VIEWER,
    summary="This API's OpenAPI 3.1 document",
    response={"type": "object"},
)
async def get_openapi(req: ApiRequest) -> Reply:
    return Reply(req.http.app[OPENAPI_KEY])


@routes.get(
    "/docs",
    role=Role.VIEWER,
    summary="A page that renders the OpenAPI document",
    produces="text/html",
)
async def get_docs(req: ApiRequest) -> web.StreamResponse:
    return web.Response(text=DOCS_HTML, content_type="text/html")


@root_routes.get(
    "/metrics", role=Role.VIEWER, summary="Prometheus metrics of this peer", produces="text/plain"
)
async def get_metrics(req: ApiRequest) -> web.StreamResponse:
    metrics = req.http.app[METRICS_KEY]
    assert isinstance(metrics, ApiMetrics)
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})
