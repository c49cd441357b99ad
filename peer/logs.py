"""Structured log lines: ``ts level logger message key=value ...``.

Callers pass fields with ``extra={"fields": {...}}``; values are quoted when they
contain spaces. Never pass a secret as a field.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        parts = [f"{ts}.{ms:03d}Z", record.levelname.lower(), record.name, record.getMessage()]
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        for k, v in fields.items():
            s = str(v)
            parts.append(f"{k}={s!r}" if (" " in s or not s) else f"{k}={s}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pysyncobj and aiohttp's access log are chatty at info; our own lines say what matters.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def kv(**fields: Any) -> dict[str, Any]:
    """Shorthand: ``log.info("joined", extra=kv(node=nid))``."""
    return {"fields": fields}
