"""Forwarding a caller's request to the peer that must answer it, as the caller.

Some things live on one host only (a VM's serial log, snapshots and console, an
image file in a host's own pool). Any peer serves the route: it forwards the
request to that host with the caller's own credentials, so the host
authenticates and authorizes the same user again and no peer-to-peer trust is
added. The other host is reached only if it shows the certificate of its node
record (peer/peertls.py), so a man in the middle never sees the caller's
credentials. A forwarded request carries ``X-Quantix-Forwarded`` and is never
forwarded again (no loops when two peers disagree on where something lives).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import aiohttp
from aiohttp import web

from peer.api.errors import ConflictError, Unavailable
from peer.api.routes import ApiRequest
from peer.peertls import mismatch, node_fp, pinned

FORWARDED_HEADER = "X-Quantix-Forwarded"
CREDENTIALS = ("Authorization", "Cookie")


def peer_origin(req: ApiRequest, node: str, what: str) -> tuple[str, aiohttp.Fingerprint]:
    """``https://address:port`` of ``node`` from its node record, and the pin of
    the certificate it must show there (peer/peertls.py)."""
    n = req.store.get("nodes", node)
    if n is None or not n.value.get("address"):
        raise Unavailable(f"{what}'s host {node} has no known address")
    fp = node_fp(dict(n.value), node, what)
    return f"https://{n.value['address']}:{n.value.get('api_port', 8443)}", pinned(fp)


def check_forwardable(req: ApiRequest, node: str, what: str) -> None:
    """Refuse what cannot be forwarded: a request that already was (loop), or a
    caller without credentials another peer could check (a local socket's)."""
    http = req.http
    if http.headers.get(FORWARDED_HEADER):
        raise ConflictError(f"{what} is on {node}, not here", code="wrong_host")
    if not any(h in http.headers for h in CREDENTIALS):
        raise ConflictError(
            f"{what} is on {node}: ask that host (local credentials cannot be forwarded)",
            code="wrong_host",
            node=node,
        )


def forwarded_headers(req: ApiRequest, names: tuple[str, ...]) -> dict[str, str]:
    """The caller's ``names`` headers (credentials among them), marked forwarded."""
    headers = {h: req.http.headers[h] for h in names if h in req.http.headers}
    headers[FORWARDED_HEADER] = req.ctx.node_id
    return headers


async def relay(
    req: ApiRequest,
    node: str,
    what: str,
    headers: Mapping[str, str],
    data: bytes | AsyncIterator[bytes] | None,
    timeout: aiohttp.ClientTimeout,
) -> web.Response:
    """Send the caller's method and path to ``node``; its answer, as it is."""
    origin, pin = peer_origin(req, node, what)
    url = origin + req.http.path_qs
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pin), timeout=timeout) as s,
            s.request(req.http.method, url, data=data, headers=dict(headers)) as resp,
        ):
            body = await resp.read()
            return web.Response(
                body=body,
                status=resp.status,
                content_type=resp.content_type or "application/json",
            )
    except aiohttp.ServerFingerprintMismatch:
        raise mismatch(node, what) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise Unavailable(f"cannot reach {what}'s host {node}: {e}") from None
