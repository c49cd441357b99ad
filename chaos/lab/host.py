"""A lab host as callers see it, and the polling helper every lab user needs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Host:
    """One lab host as callers see it."""

    name: str
    index: int
    netns: str
    address: str
    dir: Path
    api_port: int
    cluster: str | None
    pid: int | None

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.api_port}/"

    @property
    def config(self) -> Path:
        return self.dir / "node.yaml"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "peer.log"


def poll_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
