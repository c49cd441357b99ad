"""The table of hosts seen by mDNS, with add/update/remove callbacks. Thread-safe.

It records hints, nothing more: a host leaving this table (mDNS goodbye or TTL
expiry) never removes a Raft member; membership lives in the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from discovery.model import Announcement, SeenHost

log = logging.getLogger(__name__)

Event = Literal["added", "updated", "removed"]
# mDNS is unauthenticated: anyone on the LAN can announce hosts. Beyond this
# many, new ones are ignored (those already seen stay) until some leave.
MAX_HOSTS = 256
Listener = Callable[[Event, SeenHost], None]


class HostTable:
    """node id -> ``SeenHost``. Listeners run on the caller's thread, outside the lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hosts: dict[str, SeenHost] = {}
        self._by_instance: dict[str, str] = {}  # mDNS instance name -> node id
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, host)`` on every change; returns the unsubscribe call."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def hosts(self) -> list[SeenHost]:
        with self._lock:
            return sorted(self._hosts.values(), key=lambda h: h.node_id)

    def get(self, node_id: str) -> SeenHost | None:
        with self._lock:
            return self._hosts.get(node_id)

    def upsert(self, instance: str, info: Announcement, address: str) -> None:
        """Record what an instance announced; fires "added" or "updated" if anything changed."""
        now = self._clock()
        event: Event | None = None
        with self._lock:
            old_id = self._by_instance.get(instance)
            if old_id is not None and old_id != info.node_id:
                # An instance changed its node id (a reinstalled host): drop the old entry.
                gone = self._hosts.pop(old_id, None)
            else:
                gone = None
            self._by_instance[instance] = info.node_id
            old = self._hosts.get(info.node_id)
            if old is None and len(self._hosts) >= MAX_HOSTS:
                self._by_instance.pop(instance, None)
                log.debug("host table full: ignoring %s", info.node_id)
                return
            if old is None:
                host = SeenHost(info, address, now, now)
                event = "added"
            elif old.info != info or old.address != address:
                host = replace(old, info=info, address=address, last_seen=now)
                event = "updated"
            else:
                host = replace(old, last_seen=now)
            self._hosts[info.node_id] = host
            listeners = list(self._listeners)
        if gone is not None:
            self._fire(listeners, "removed", gone)
        if event is not None:
            self._fire(listeners, event, host)

    def touch(self, instance: str) -> bool:
        """The instance proved alive (a record arrived): refresh its ``last_seen``.

        Returns False if the instance is not in the table (the caller resolves it)."""
        now = self._clock()
        with self._lock:
            node_id = self._by_instance.get(instance)
            host = self._hosts.get(node_id) if node_id is not None else None
            if host is None:
                return False
            self._hosts[host.node_id] = replace(host, last_seen=now)
            return True

    def stale(self, older_than: float) -> list[tuple[str, SeenHost]]:
        """(instance, host) of every host not seen since ``older_than`` (table clock)."""
        with self._lock:
            by_id = {v: k for k, v in self._by_instance.items()}
            return [(by_id[h.node_id], h) for h in self._hosts.values()
                    if h.last_seen < older_than and h.node_id in by_id]  # fmt: skip

    def remove_instance(self, instance: str) -> None:
        """Forget an instance (goodbye or expiry); fires "removed" if it was known."""
        with self._lock:
            node_id = self._by_instance.pop(instance, None)
            host = self._hosts.pop(node_id, None) if node_id is not None else None
            listeners = list(self._listeners)
        if host is not None:
            self._fire(listeners, "removed", host)

    def clear(self) -> None:
        """Forget everything (the mDNS stack restarts on a new address); fires "removed"."""
        with self._lock:
            hosts = list(self._hosts.values())
            self._hosts.clear()
            self._by_instance.clear()
            listeners = list(self._listeners)
        for host in hosts:
            self._fire(listeners, "removed", host)

    @staticmethod
    def _fire(listeners: list[Listener], event: Event, host: SeenHost) -> None:
        for listener in listeners:
            try:
                listener(event, host)
            except Exception:
                # One broken listener must not stop the others or the mDNS stack.
                log.exception("discovery listener failed on %s %s", event, host.node_id)
