"""The peer's API over its local unix socket (root-only: the local admin)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from console.errors import ApiRefused, PeerUnreachable

PREFIX = "/api/v1"


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def request(
    sock_path: str, method: str, path: str, body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    """One HTTP/1.1 request over a unix socket (``Connection: close``).

    A few lines instead of http.client, which brings ssl and email along: about
    6 MiB of the console's memory."""
    head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    finally:
        s.close()
    raw = b"".join(chunks)
    header, sep, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("not an HTTP response")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        payload = _dechunk(payload)
    elif "content-length" in headers:
        payload = payload[: int(headers["content-length"])]
    return int(parts[1]), payload


class LocalClient:
    def __init__(self, sock: Path | str, timeout: float = 5.0) -> None:
        self.sock = str(sock)
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """The decoded JSON answer; ApiRefused for 4xx/5xx; PeerUnreachable when
        the socket does not answer."""
        data = None if body is None else json.dumps(body).encode()
        try:
            status, raw = request(self.sock, method, PREFIX + path, data, timeout or self.timeout)
        except (OSError, ValueError) as e:
            raise PeerUnreachable(f"the peer does not answer on {self.sock}: {e}") from None
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        if status >= 400:
            d = decoded if isinstance(decoded, dict) else {}
            raise ApiRefused(
                status,
                str(d.get("code", "error")),
                str(d.get("message", f"HTTP {status}")),
                d.get("details") or {},
            )
        return decoded

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, timeout: float | None = None) -> Any:
        return self.call("POST", path, {} if body is None else body, timeout)
