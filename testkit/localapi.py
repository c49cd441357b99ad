"""``/api/v1`` of one peer over its local unix socket (root-only, so it acts as the
local admin): what tests and benches use to drive a lab host."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class LocalApi:
    """``/api/v1`` of one peer through its unix socket."""

    def __init__(self, sock: Path | str, timeout: float = 5.0) -> None:
        self.sock = str(sock)
        self.timeout = timeout

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = _UnixConnection(self.sock, self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            sent = dict(headers or {})
            if data is not None:
                sent["Content-Type"] = "application/json"
            conn.request(method, "/api/v1" + path, body=data, headers=sent)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def put_file(self, path: str, src: Path) -> tuple[int, Any]:
        """PUT a file's bytes as the raw body (an image upload), streamed from disk."""
        conn = _UnixConnection(self.sock, self.timeout)
        try:
            with src.open("rb") as f:
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(src.stat().st_size),
                }
                conn.request("PUT", "/api/v1" + path, body=f, headers=headers)
                resp = conn.getresponse()
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        if status >= 400:
            raise AssertionError(f"GET {path}: {status} {body}")
        return body

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call("POST", path, body)
