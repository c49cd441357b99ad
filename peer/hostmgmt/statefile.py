"""The host-management state file: ``<data_dir>/hostmgmt/state.json``, mode 0600.

Holds what must survive a console or peer restart: the console lockout, the
local host password hash, the SSH timer, a pending network change and its
rollback snapshot, recorded actions. Written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

RECORDED_KEEP = 50


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.path = directory / "state.json"
        self.data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def record(self, what: str, **fields: Any) -> dict[str, Any]:
        """Keep an action that was recorded instead of executed (lab/test mode)."""
        entry = {"ts": time.time(), "action": what, **fields}
        items = list(self.data.get("recorded") or [])[-(RECORDED_KEEP - 1) :]
        items.append(entry)
        self.set("recorded", items)
        return entry

    def log_line(self, entry: dict[str, Any]) -> None:
        """Append to the local audit log (kept even when the cluster cannot commit)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / "audit.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
