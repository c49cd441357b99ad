"""An API client for one peer over its local unix socket (stdlib only).

Requests through ``<host dir>/peer.sock`` reach that very peer (the socket acts
as the local admin), so clients on different hosts exercise different peers'
forwarding to the leader. Every call answers a ``Reply`` and never raises:
``outcome`` says what the caller may conclude about a write.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any

# What a reply lets a caller conclude about a write it sent.
OK = "ok"  # done
FAIL = "fail"  # certainly not applied (refused, or never reached the peer)
UNKNOWN = "unknown"  # may or may not have been applied (timeout, 5xx, cut connection)


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no HTTP answer
    body: Any
    headers: dict[str, str]
    error: str | None = None
    sent: bool = True  # False: the request never left (connect failed)

    @property
    def outcome(self) -> str:
        if 200 <= self.status < 300:
            return OK
        if not self.sent or 400 <= self.status < 500:
            return FAIL
        return UNKNOWN

    @property
    def code(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return str(self.body["code"])
        return self.error or f"http_{self.status}"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


class PeerClient:
    """Talks to one peer's API through its unix socket. Thread-safe (one connection per call)."""

    def __init__(self, host: str, socket_path: str, timeout: float = 5.0) -> None:
        self.host = host
        self.socket_path = socket_path
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        if_match: int | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """``path`` is relative to /api/v1 (e.g. ``/networks/reg0``)."""
        conn = _UnixConnection(self.socket_path, timeout or self.timeout)
        # The server commits nothing of the request after we give up (an "unknown"
        # outcome then ends when the client's wait does).
        headers = {"Accept": "application/json", "X-Request-Timeout": f"{conn.timeout:g}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        try:
            try:
                conn.connect()
            except OSError as e:
                return Reply(0, None, {}, f"connect: {e.__class__.__name__}", sent=False)
            try:
                conn.request(method, "/api/v1" + path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                return Reply(0, None, {}, f"{e.__class__.__name__}: {e}"[:200])
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")[:200]
            return Reply(resp.status, parsed, {k.lower(): v for k, v in resp.getheaders()})
        finally:
            conn.close()

    def get(self, path: str, timeout: float | None = None) -> Reply:
        return self.request("GET", path, timeout=timeout)
