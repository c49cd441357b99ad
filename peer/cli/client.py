"""The CLI's HTTP adapter (the one module that imports aiohttp's client).

Turns every transport problem into a ``CliError`` with a helpful message:
unreachable peer, certificate mismatch, API errors (their ``message`` and
``code``), non-JSON answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from peer.cli.config import Context
from peer.cli.errors import EXIT_UNREACHABLE, CliError

API = "/api/v1"


def normalize_fingerprint(fp: str) -> str:
    return fp.replace(":", "").strip().lower()


def server_fingerprint(url: str, timeout: float = 10.0) -> str:
    """sha256 of the certificate the server at ``url`` presents (hex), without
    trusting it: what ``login`` shows the user to pin."""
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 8443
    try:
        pem = ssl.get_server_certificate((host, port), timeout=timeout)
    except OSError as e:
        raise CliError(f"cannot reach {host}:{port}: {e}", exit_code=EXIT_UNREACHABLE) from None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def _ssl_for(ctx: Context) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
    if ctx.fingerprint:
        return aiohttp.Fingerprint(bytes.fromhex(normalize_fingerprint(ctx.fingerprint)))
    # --insecure: no verification; otherwise the system's CAs.
    return not ctx.insecure


class ApiClient:
    """``async with ApiClient(ctx) as c: await c.get("/vms")`` (paths under /api/v1)."""

    def __init__(self, ctx: Context, timeout: float = 30.0) -> None:
        self.ctx = ctx
        self.base = ctx.url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.extra_headers: dict[str, str] = {}

    async def __aenter__(self) -> ApiClient:
        connector: aiohttp.BaseConnector
        if self.ctx.socket:
            connector = aiohttp.UnixConnector(path=self.ctx.socket)
        else:
            connector = aiohttp.TCPConnector(ssl=_ssl_for(self.ctx))
        # No cookie jar: the CLI authenticates with a bearer token; the one
        # session cookie ``login`` needs is passed by hand (see commands/session.py).
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self.timeout, cookie_jar=aiohttp.DummyCookieJar()
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        h = {"Accept": "application/json", **self.extra_headers, **(extra or {})}
        if self.timeout.total:  # nothing of the request is committed after we give up
            h.setdefault("X-Request-Timeout", f"{self.timeout.total:g}")
        if self.ctx.token:
            h["Authorization"] = f"Bearer {self.ctx.token}"
        return h

    def _where(self) -> str:
        return self.ctx.socket or self.base

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> tuple[Any, dict[str, str]]:
        """The decoded JSON body (None for 204) and the response headers. ``data``
        (a file, bytes) is sent as the raw body instead of ``body`` as JSON."""
        assert self._session is not None, "use 'async with ApiClient(...)'"
        # Paths are under /api/v1 except the few served at the root (/metrics).
        url = self.base + (path if path.startswith(API) or path == "/metrics" else API + path)
        params = {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (query or {}).items()
            if v is not None
        }
        try:
            async with self._session.request(
                method,
                url,
                json=body if data is None else None,
                data=data,
                params=params,
                headers=self._headers(headers),
                timeout=timeout or self.timeout,
            ) as r:
                text = await r.text()
                hdrs = dict(r.headers)
                status = r.status
        except aiohttp.ServerFingerprintMismatch as e:
            raise CliError(
                f"{self._where()} presented a certificate with sha256 {e.got.hex()}, not the "
                "pinned one: the host changed, or someone is in between. Re-run 'quantix "
                "login' if the host was reinstalled.",
                exit_code=EXIT_UNREACHABLE,
            ) from None
        except aiohttp.ClientConnectorCertificateError:
            raise CliError(
                f"{self._where()} has a certificate this machine does not trust (peers make "
                "a self-signed one). Log in with --fingerprint (shown by 'quantix login') "
                "or --insecure.",
                exit_code=EXIT_UNREACHABLE,
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise CliError(
                f"cannot reach {self._where()}: {e or type(e).__name__}", exit_code=EXIT_UNREACHABLE
            ) from None
        out: Any = None
        if text:
            try:
                out = json.loads(text)
            except json.JSONDecodeError:
                out = text
        if status >= 400:
            if isinstance(out, dict) and "code" in out:
                msg = str(out.get("message"))
                errors = (out.get("details") or {}).get("errors")
                if isinstance(errors, list) and len(errors) > 1:
                    msg += "".join(f"\n  {e.get('path')}: {e.get('problem')}" for e in errors[1:])
                raise CliError(msg, status=status, code=str(out["code"]))
            raise CliError(f"{method} {path} failed with HTTP {status}", status=status)
        return out, hdrs

    async def get(self, path: str, **query: Any) -> Any:
        return (await self.request("GET", path, query=query))[0]

    async def post(self, path: str, body: Any = None) -> Any:
        return (await self.request("POST", path, body=body))[0]

    async def patch(self, path: str, body: Any) -> Any:
        return (await self.request("PATCH", path, body=body))[0]

    async def delete(self, path: str, **query: Any) -> Any:
        return (await self.request("DELETE", path, query=query))[0]

    async def get_all(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """Every item of a paged list, following ``next_cursor``."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.get(path, **query, limit=1000, cursor=cursor)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def events(
        self, from_revision: int | None, kind: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """Events from the websocket stream, reconnecting from the last revision
        seen if the connection drops."""
        assert self._session is not None
        last = from_revision
        while True:
            params = {
                k: str(v) for k, v in (("from_revision", last), ("kind", kind)) if v is not None
            }
            try:
                async with self._session.ws_connect(
                    self.base + API + "/events/stream",
                    params=params,
                    headers=self._headers(None),
                    heartbeat=30,
                ) as ws:
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        ev = json.loads(msg.data)
                        last = int(ev.get("revision", last or 0))
                        yield ev
            except aiohttp.WSServerHandshakeError as e:
                raise CliError(
                    f"cannot watch events: HTTP {e.status} {e.message}", status=e.status
                ) from None
            except (aiohttp.ClientError, OSError) as e:
                raise CliError(
                    f"event stream from {self._where()} ended: {e}", exit_code=EXIT_UNREACHABLE
                ) from None
            await asyncio.sleep(1.0)  # the server closed the stream: resume
