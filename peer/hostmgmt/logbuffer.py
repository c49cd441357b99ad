"""The peer's recent log records, kept in memory for the console's diagnostics."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

KEEP = 300


class RingHandler(logging.Handler):
    """Keeps the newest ``KEEP`` records and counts warnings and errors since start."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self.warnings = 0
        self.errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors += 1
        elif record.levelno >= logging.WARNING:
            self.warnings += 1
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not break logging
            msg = str(record.msg)
        fields = getattr(record, "fields", None)  # peer.logs.kv(...) structured fields
        if isinstance(fields, dict) and fields:
            msg += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        self.records.append(
            {
                "ts": record.created,
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": msg[:300],
            }
        )

    def snapshot(self, limit: int) -> dict[str, Any]:
        return {
            "warnings": self.warnings,
            "errors": self.errors,
            "lines": list(self.records)[-limit:],
        }


_handler: RingHandler | None = None


def install() -> RingHandler:
    """Attach one ring handler to the root logger (idempotent)."""
    global _handler
    if _handler is None:
        _handler = RingHandler()
        logging.getLogger().addHandler(_handler)
    return _handler
