"""Unauthenticated failures (bad logins, bad tokens, refused handshakes, junk
bodies on open routes) go to this peer's log, rate-limited; they are never
committed to the replicated state, which a stranger could otherwise fill."""

from __future__ import annotations

import logging
import time

from peer.api.routes import ApiRequest
from peer.logs import kv

log = logging.getLogger("peer.api.failures")

# At most this many lines per window; the rest are counted and summed up once.
BURST = 20
WINDOW_S = 10.0


class _Limiter:
    def __init__(self) -> None:
        self.window_start = 0.0
        self.lines = 0
        self.suppressed = 0

    def allow(self, now: float) -> tuple[bool, int]:
        """(log this one?, how many were suppressed in the window that just ended)."""
        dropped = 0
        if now - self.window_start >= WINDOW_S:
            dropped, self.suppressed = self.suppressed, 0
            self.window_start, self.lines = now, 0
        if self.lines < BURST:
            self.lines += 1
            return True, dropped
        self.suppressed += 1
        return False, dropped


_LIMITER = _Limiter()


def log_unauthenticated(method: str, path: str, remote: str | None, code: str) -> None:
    ok, dropped = _LIMITER.allow(time.monotonic())
    if dropped:
        log.warning("%d more unauthenticated failures not logged", dropped)
    if ok:
        log.warning(
            "refused unauthenticated call",
            extra=kv(call=f"{method} {path}", remote=remote or "?", result=code),
        )


def log_failure(req: ApiRequest, code: str) -> None:
    """Log a refused open call (a failed login) locally; mark it audited so the
    guard commits nothing for it."""
    log_unauthenticated(req.route.method, req.http.path, req.remote, code)
    req.audited = True
