"""TLS servers on loopback for the security tests: a peer's app, or a man in
the middle with a certificate of its own that records what it was sent."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from peer.tls import ensure_certificate, server_context


@dataclass
class Served:
    url: str  # https://127.0.0.1:port
    fp: str  # SHA-256 hex of the certificate it shows
    seen: list[dict[str, Any]] = field(default_factory=list)  # requests (MITM only)


@asynccontextmanager
async def serve_tls(app: web.Application, cert_dir: Path) -> AsyncIterator[Served]:
    """Serve ``app`` over TLS on a free loopback port with a certificate of its own."""
    cert, key = ensure_certificate(cert_dir, "peer", "127.0.0.1")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(cert, key))
    await site.start()
    port = runner.addresses[0][1]
    url = f"https://127.0.0.1:{port}"
    try:
        der = ssl.PEM_cert_to_DER_cert(cert.read_text())
        yield Served(url, hashlib.sha256(der).hexdigest())
    finally:
        await runner.cleanup()


def mitm_app(seen: list[dict[str, Any]]) -> web.Application:
    """Answers everything 200 and keeps what it was sent (headers, body)."""

    async def grab(request: web.Request) -> web.StreamResponse:
        seen.append(
            {
                "path": request.path,
                "headers": dict(request.headers),
                "body": await request.text() if request.can_read_body else "",
            }
        )
        return web.json_response({"data": "from the man in the middle", "items": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", grab)
    return app
