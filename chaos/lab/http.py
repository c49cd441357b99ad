"""A tiny HTTPS client for the peers' API (stdlib only).

Lab peers use self-signed certificates made on first start, so this client
accepts any certificate: it talks only to addresses inside the lab's own
namespaces. Never use it for anything else.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any


def _lab_tls_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # lab peers' certificates are self-signed (see above)
    return ctx


_CTX = _lab_tls_context()


class ApiError(Exception):
    """The API did not answer, or answered with an error status (``status`` 0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def get_json(url: str, timeout: float = 3.0, token: str | None = None) -> Any:
    """GET ``url`` and decode its JSON body, or raise ApiError."""
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_CTX) as resp:  # noqa: S310
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raise ApiError(f"{url}: HTTP {e.code}", e.code) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ApiError(f"{url}: {e}") from None
