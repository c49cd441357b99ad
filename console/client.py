"""The peer's API over its local unix socket (root-only: the local admin)."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any

from console.errors import ApiRefused, PeerUnreachable

PREFIX = "/api/v1"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class LocalClient:
    def __init__(self, sock: Path | str, timeout: float = 5.0) -> None:
        self.sock = str(sock)
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """The decoded JSON answer; ApiRefused for 4xx/5xx; PeerUnreachable when
        the socket does not answer."""
        conn = _UnixConnection(self.sock, timeout or self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, PREFIX + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise PeerUnreachable(f"the peer does not answer on {self.sock}: {e}") from None
        finally:
            conn.close()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        if resp.status >= 400:
            d = decoded if isinstance(decoded, dict) else {}
            raise ApiRefused(
                resp.status,
                str(d.get("code", "error")),
                str(d.get("message", f"HTTP {resp.status}")),
                d.get("details") or {},
            )
        return decoded

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, timeout: float | None = None) -> Any:
        return self.call("POST", path, {} if body is None else body, timeout)
