"""The OpenAPI 3.1 document, generated from the route declarations (never by hand)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peer import __version__
from peer.api.routes import Route

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message": {"type": "string", "description": "for people"},
        "details": {"type": "object"},
    },
}


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in route.path_params
    ]
    for name, schema in route.query.items():
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    return params


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "x-required-role": route.role.label if route.role else None,
        "security": [] if route.role is None else [{"bearer": []}, {"session": []}],
    }
    if route.description:
        op["description"] = route.description
    params = _parameters(route)
    if params:
        op["parameters"] = params
    if route.consumes != "application/json":
        op["requestBody"] = {
            "required": True,
            "content": {route.consumes: {"schema": {"type": "string", "format": "binary"}}},
        }
    elif route.body is not None:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": route.body}},
        }
    ok: dict[str, Any] = {"description": route.summary}
    if route.status != 204 and route.produces != "websocket":
        if route.produces == "application/json":
            ok["content"] = {"application/json": {"schema": route.response or {}}}
        else:
            ok["content"] = {route.produces: {"schema": {"type": "string"}}}
    op["responses"] = {
        **{str(s): ok for s in (route.status, *route.also)},
        "default": {
            "description": "an error: {code, message, details}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    return op


def build_openapi(routes: Sequence[Route], title: str = "Quantix API") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": __version__,
            "description": "The REST API every Quantix peer serves. Writes are committed "
            "through the replicated store before they are answered; reads are served "
            "from the local replica (add ?consistent=true for a linearizable read). Every "
            "answer carries X-Quantix-Revision; send it back to another peer as "
            "X-Quantix-Min-Revision to read your own writes there.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "qx_<id>_<secret>"},
                "session": {"type": "apiKey", "in": "cookie", "name": "qx_session"},
            },
        },
    }
