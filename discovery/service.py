"""``Discovery``: announce this host and keep the table of the hosts we see.

Like python-zeroconf, ``async_*`` methods must run on the event loop the service
was started on; the plain methods are thread-safe wrappers. Started with
``start()`` from a thread without a running loop, the service runs its own loop
in a daemon thread; started with ``await async_start()`` it uses the caller's
loop (the peer daemon's). Table listeners run on that loop: they must not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from discovery._zc import Change, Mdns
from discovery.bootstrap import Decision, Merge, SplitBrain, decide, merge, split_brains
from discovery.errors import DiscoveryError, MdnsError, TxtError
from discovery.model import SERVICE_TYPE, Announcement, SeenHost
from discovery.netif import interface_ipv4
from discovery.table import HostTable, Listener
from discovery.txt import encode_txt, parse_txt

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TTL = 15  # s: a host killed without a goodbye leaves the tables this fast
RESOLVE_TIMEOUT = 3.0  # s
CALL_TIMEOUT = 15.0  # s: the sync wrappers give up after this


class Discovery:
    """mDNS presence of one host on its management address (IPv4 only)."""

    def __init__(
        self,
        me: Announcement,
        address: str | None,
        *,
        interface: str | None = None,
        ttl: int = DEFAULT_TTL,
        watch_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``address``: the management IPv4 (None: read it from ``interface``).
        ``interface``: if given, its address is re-read every ``watch_interval``
        seconds and the stack restarts (re-announce, re-scan) when it changes."""
        if address is None and interface is None:
            raise MdnsError("discovery needs a management address or interface")
        self._me = me
        self._address = address
        self._interface = interface
        self._ttl = ttl
        self._watch_interval = watch_interval
        self._clock = clock
        # Each host re-sends its records every ttl/3 s; a host not heard from for
        # a whole TTL (and silent to one direct query) has left the network.
        self._heartbeat = max(1.0, ttl / 3)
        self.table = HostTable(clock)
        self.started_at: float | None = None  # the bootstrap rule's first_seen_at
        self._mdns: Mdns | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generation: dict[str, int] = {}
        self._resolving: set[str] = set()
        self._lock = asyncio.Lock()
        self._reported: set[str] = set()
        self.table.subscribe(self._check_split_brain)

    # -- what callers read (thread-safe) -------------------------------------

    @property
    def me(self) -> Announcement:
        return self._me

    @property
    def address(self) -> str | None:
        return self._address

    def hosts(self) -> list[SeenHost]:
        return self.table.hosts()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.table.subscribe(listener)

    def decide(self, settle_window: float, bootstrap_timeout: float = 30.0) -> Decision:
        """The bootstrap rule applied to this host and the current table."""
        now = self._clock()
        started = self.started_at if self.started_at is not None else now
        return decide(self._me, self.hosts(), now, started, settle_window, bootstrap_timeout)

    def settle_remaining(self, settle_window: float) -> float:
        """Seconds until the settle window of the bootstrap rule is over (0: over).
        Lets a caller wake exactly when ``decide`` may first say ``bootstrap``."""
        if self.started_at is None:
            return settle_window
        return max(0.0, self.started_at + settle_window - self._clock())

    def split_brains(self) -> list[SplitBrain]:
        return split_brains(self._me, self.hosts())

    def merge(self, running_vms: int) -> Merge:
        """``bootstrap.merge`` applied to this host and the current table."""
        return merge(self._me, self.hosts(), running_vms=running_vms)

    def status(self) -> dict[str, Any]:
        """For the peer's status endpoint (hints only, no secret)."""
        return {
            "discovery": {
                "address": self._address,
                "announcing": self._me.role,
                "young": self._me.young,
                "seen": [
                    {
                        "node_id": h.node_id,
                        "address": h.address,
                        "cluster": h.cluster_name,
                        "cluster_id": h.cluster_id,
                        "role": h.role,
                        "api_port": h.info.api_port,
                    }
                    for h in self.hosts()
                ],
                "split_brain": [sb.describe() for sb in self.split_brains()],
            }
        }

    # -- event loop API --------------------------------------------------------

    async def async_start(self) -> None:
        """Open mDNS on the management address, announce, browse."""
        self._loop = asyncio.get_running_loop()
        self.started_at = self._clock()
        async with self._lock:
            if self._address is None and self._interface is not None:
                self._address = interface_ipv4(self._interface)
            if self._address is not None:
                await self._async_open()
            else:
                log.warning("discovery: %s has no IPv4 address yet", self._interface)
        if self._interface is not None:
            self._spawn(self._async_watch_interface())
        self._spawn(self._async_heartbeat_and_sweep())

    async def async_update(self, **changes: Any) -> None:
        """Change what we announce (role, cluster_name, cluster_id, ...) and re-announce."""
        new = replace(self._me, **changes)  # validates
        async with self._lock:
            if new == self._me:
                return
            self._me = new
            if self._mdns is not None:
                await self._mdns.async_announce(new.node_id, new.api_port, encode_txt(new))
        log.info("discovery: now announcing role=%s cluster=%r", new.role, new.cluster_name)

    async def async_set_address(self, address: str | None) -> None:
        """Move to a new management address (None: stop announcing until one comes back)."""
        async with self._lock:
            if address == self._address and (self._mdns is not None or address is None):
                return
            log.info("discovery: management address %s -> %s", self._address, address)
            await self._async_close_mdns()
            self.table.clear()
            self._address = address
            if address is not None:
                await self._async_open()

    async def async_stop(self) -> None:
        """Say goodbye (others drop us at once) and close everything."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self._lock:
            await self._async_close_mdns()

    # -- thread-safe wrappers ------------------------------------------------

    def start(self) -> None:
        """Start on a private event loop thread (for callers without a loop)."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._own_thread = threading.Thread(
                target=loop.run_forever, name="discovery", daemon=True
            )
            self._own_thread.start()
            self._loop = loop
        self._call(self.async_start())

    def update(self, **changes: Any) -> None:
        self._call(self.async_update(**changes))

    def set_address(self, address: str | None) -> None:
        self._call(self.async_set_address(address))

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._call(self.async_stop())
        finally:
            if self._own_thread is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._own_thread.join(timeout=CALL_TIMEOUT)
                self._loop.close()
                self._own_thread = None
                self._loop = None

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise DiscoveryError("discovery is not started")
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                coro.close()
                raise DiscoveryError("use the async_ method on the event loop (it would block)")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(CALL_TIMEOUT)

    # -- internals (event loop) ------------------------------------------------

    async def _async_open(self) -> None:
        assert self._address is not None
        mdns = Mdns(self._address, self._ttl)
        await mdns.async_open()
        self._mdns = mdns
        try:
            mdns.watch(self._on_seen)
            mdns.browse(self._on_change)
            await mdns.async_announce(self._me.node_id, self._me.api_port, encode_txt(self._me))
        except DiscoveryError:
            await self._async_close_mdns()
            raise
        log.info("discovery: announcing %s on %s", self._me.node_id, self._address)

    async def _async_close_mdns(self) -> None:
        mdns, self._mdns = self._mdns, None
        if mdns is not None:
            await mdns.async_close()

    def _on_change(self, change: Change, name: str) -> None:
        # zeroconf calls this on the loop; resolving awaits, so it gets a task.
        gen = self._generation[name] = self._generation.get(name, 0) + 1
        if change == "removed":
            self.table.remove_instance(name)
            return
        mdns = self._mdns
        if mdns is not None:
            self._spawn(self._async_resolve(mdns, name, gen))

    def _on_seen(self, name: str) -> None:
        # A live record of an instance we do not list (dropped while silent, or
        # restarted while its PTR sat in zeroconf's cache, so no "added" event
        # comes): resolve it like a new one. At most one such resolve per name.
        if self.table.touch(name) or name in self._resolving or self._mdns is None:
            return
        if name.lower() == f"{self._me.node_id}.{SERVICE_TYPE}".lower():
            return
        self._on_change("updated", name)

    async def _async_resolve(self, mdns: Mdns, name: str, gen: int) -> None:
        self._resolving.add(name)
        try:
            await self._async_resolve_once(mdns, name, gen)
        except MdnsError:
            pass  # the stack closed meanwhile (stopping, or an address change)
        finally:
            self._resolving.discard(name)

    async def _async_resolve_once(self, mdns: Mdns, name: str, gen: int) -> None:
        found = await mdns.async_resolve(name, RESOLVE_TIMEOUT)
        if self._generation.get(name) != gen or mdns is not self._mdns:
            return  # a newer event for this name (or a restarted stack) supersedes us
        if found is None:
            log.debug("discovery: %s did not answer", name)
            return
        txt, addresses = found
        try:
            info = parse_txt(txt)
        except TxtError as e:
            log.warning("discovery: ignoring %s: %s", name, e.message)
            return
        if info.node_id == self._me.node_id or not addresses:
            return
        self.table.upsert(name, info, addresses[0])

    async def _async_heartbeat_and_sweep(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            mdns = self._mdns
            if mdns is None:
                continue
            mdns.heartbeat()
            for name, host in self.table.stale(self._clock() - self._ttl):
                self._spawn(self._async_check_gone(mdns, name, host))

    async def _async_check_gone(self, mdns: Mdns, name: str, host: SeenHost) -> None:
        gen = self._generation.get(name, 0)
        if await mdns.async_resolve(name, 1.0) is not None:
            self.table.touch(name)
        elif self._generation.get(name, 0) == gen and mdns is self._mdns:
            log.info("discovery: %s (%s) went silent; dropping it", host.node_id, host.address)
            self.table.remove_instance(name)

    async def _async_watch_interface(self) -> None:
        assert self._interface is not None
        while True:
            await asyncio.sleep(self._watch_interval)
            addr = interface_ipv4(self._interface)
            # Also retry when the stack failed to open on an unchanged address.
            if addr != self._address or (addr is not None and self._mdns is None):
                try:
                    await self.async_set_address(addr)
                except DiscoveryError as e:
                    log.warning("discovery: cannot move to %s: %s", addr, e.message)

    def _check_split_brain(self, _event: str, _host: SeenHost) -> None:
        # Loud, once per distinct conflict: two clusters with one name never merge
        # by themselves and an operator has to act.
        for sb in self.split_brains():
            key = f"{sb.cluster_name}:{','.join(sorted(sb.instances))}"
            if key not in self._reported:
                self._reported.add(key)
                log.error("discovery: %s", sb.describe())

    def _spawn(self, aw: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
