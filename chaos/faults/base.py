"""The fault contract: a context manager that undoes itself.

``with fault:`` injects on entry and heals on exit, whatever happened in
between (an exception, a KeyboardInterrupt). What a crash of the harness itself
leaves behind is found by name and removed by ``chaos.faults.sweep``.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any

log = logging.getLogger("chaos.faults")

TABLE = "quantix_chaos"  # the nftables table every chaos rule lives in
TAG = "quantix-chaos"  # comment on each rule, for people reading `nft list ruleset`


class Fault(ABC):
    """One fault on some hosts. Subclasses implement ``inject`` and ``heal``;
    ``tick`` runs about every 0.2 s while the fault is held (flapping, watchdogs)."""

    kind = "fault"

    def __init__(self, hosts: list[str]) -> None:
        self.hosts = list(hosts)
        self.active = False
        self.notes: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "hosts": self.hosts, **self.params()}

    def params(self) -> dict[str, Any]:
        return {}

    def up_hosts(self, everyone: list[str]) -> list[str]:
        """The hosts that should keep answering while this fault holds (the majority side)."""
        return [h for h in everyone if h not in self.hosts]

    def whole_cluster_down(self) -> bool:
        return False

    @abstractmethod
    def inject(self) -> None:
        """Put the fault in place."""

    @abstractmethod
    def heal(self) -> None:
        """Undo it; must work even if ``inject`` failed half-way."""

    def tick(self, elapsed: float) -> None:
        return None

    def hold(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Keep the fault for ``seconds`` (or until ``stop``), ticking."""
        start = time.monotonic()
        stop = stop or threading.Event()
        while not stop.is_set():
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                return
            self.tick(elapsed)
            stop.wait(min(0.2, seconds - elapsed))

    def __enter__(self) -> Fault:
        self.active = True
        try:
            self.inject()
        except BaseException:
            self._heal_safely()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._heal_safely()

    def _heal_safely(self) -> None:
        if not self.active:
            return
        self.active = False
        try:
            self.heal()
        except Exception:
            log.exception("healing %s failed; chaos.faults.sweep removes what is left", self.kind)
            raise
