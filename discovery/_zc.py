"""The one module that imports zeroconf: announce one service, browse one type.

Everything runs on the event loop it was opened on (``async_*``). zeroconf's
errors become ``MdnsError``; what the network sends is handed up as raw TXT
bytes and addresses, to be parsed by the pure codec.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any, Final, Literal

from zeroconf import Error as ZeroconfError
from zeroconf import IPVersion, RecordUpdate, RecordUpdateListener, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from discovery.errors import MdnsError
from discovery.model import SERVICE_TYPE

log = logging.getLogger(__name__)

Change = Literal["added", "updated", "removed"]
_CHANGES: Final = {
    ServiceStateChange.Added: "added",
    ServiceStateChange.Updated: "updated",
    ServiceStateChange.Removed: "removed",
}


_TYPE_TXT: Final = 16  # DNS record type TXT
_SUFFIX: Final = "." + SERVICE_TYPE


def instance_name(node_id: str) -> str:
    return f"{node_id}.{SERVICE_TYPE}"


class _TxtSeen(RecordUpdateListener):
    """Calls ``on_seen(instance)`` for every live TXT record of our type received.

    Why: zeroconf raises every received PTR TTL to at least 1125 s, so a host
    killed without a goodbye would stay "added" for ~19 minutes. Our TXT records
    keep their short TTL and are re-sent by every host's heartbeat, so their
    arrival is what proves a host alive (see Discovery's sweep).
    """

    def __init__(self, on_seen: Callable[[str], None]) -> None:
        self._on_seen = on_seen

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        for update in records:
            rec = update.new
            if (
                rec.type == _TYPE_TXT
                and rec.name.lower().endswith(_SUFFIX)
                and not rec.is_expired(now)
            ):
                self._on_seen(rec.name)


class Mdns:
    """One zeroconf stack bound to one IPv4 address, announcing at most one service."""

    def __init__(self, address: str, ttl: int) -> None:
        self.address = address
        self.ttl = ttl
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: Any = None
        self._seen: _TxtSeen | None = None
        # zeroconf's repeats of the last announcement (3 packets, 225 ms apart).
        self._repeats: asyncio.Future[Any] | None = None

    async def async_open(self) -> None:
        try:
            self._aiozc = AsyncZeroconf(interfaces=[self.address], ip_version=IPVersion.V4Only)
        except (OSError, ZeroconfError) as e:
            raise MdnsError(f"cannot start mDNS on {self.address}: {e}") from None

    def _zc(self) -> AsyncZeroconf:
        if self._aiozc is None:
            raise MdnsError("the mDNS stack is not open")
        return self._aiozc

    def _service(self, node_id: str, port: int, txt: bytes) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE_TYPE,
            instance_name(node_id),
            port=port,
            properties=txt,
            server=f"qx-{node_id}.local.",
            addresses=[socket.inet_aton(self.address)],
            host_ttl=self.ttl,
            other_ttl=self.ttl,
        )

    async def async_announce(self, node_id: str, port: int, txt: bytes) -> None:
        """Register the service, or re-announce it with new TXT if already registered.

        Returns once the first announcement packet is sent; zeroconf's two repeats
        (225 ms apart, against packet loss) go on in the background. Awaiting them
        cost every caller 0.45 s, on the critical path of cluster formation (the
        bootstrapper's claim, each joiner's "member"). A newer announcement
        cancels the repeats of an older one, so a stale TXT is never sent after
        a newer one."""
        info = self._service(node_id, port, txt)
        self._cancel_repeats()
        try:
            if self._info is None:
                # Instance names are node ids (random, made once per host): no two
                # hosts share one, so the ~1 s of RFC 6762 probing for a conflict is
                # skipped and the host is visible at once.
                sending = await self._zc().async_register_service(info, cooperating_responders=True)
            else:
                sending = await self._zc().async_update_service(info)
        except ZeroconfError as e:
            raise MdnsError(f"cannot announce {instance_name(node_id)}: {e!r}") from None
        self._info = info
        self._repeats = asyncio.ensure_future(sending)
        # zeroconf's sender task was scheduled before we yield here, so it runs its
        # first step, which sends the first packet, before this coroutine resumes.
        await asyncio.sleep(0)

    def _cancel_repeats(self) -> None:
        repeats, self._repeats = self._repeats, None
        if repeats is not None and not repeats.done():
            repeats.cancel()

    def browse(self, on_change: Callable[[Change, str], None]) -> None:
        """Call ``on_change(change, instance_name)`` as services appear, change, leave."""

        def handler(**kw: Any) -> None:
            on_change(_CHANGES[kw["state_change"]], str(kw["name"]))  # type: ignore[arg-type]

        self._browser = AsyncServiceBrowser(self._zc().zeroconf, SERVICE_TYPE, handlers=[handler])

    def watch(self, on_seen: Callable[[str], None]) -> None:
        """Call ``on_seen(instance_name)`` whenever a live TXT record of our type arrives."""
        self._seen = _TxtSeen(on_seen)
        self._zc().zeroconf.async_add_listener(self._seen, None)

    def heartbeat(self) -> None:
        """Re-send our records in one unsolicited multicast packet (refreshes every cache)."""
        if self._info is not None and self._aiozc is not None:
            zc = self._aiozc.zeroconf
            zc.async_send(zc.generate_service_broadcast(self._info, None))

    async def async_resolve(self, name: str, timeout: float) -> tuple[bytes, list[str]] | None:
        """(TXT rdata, IPv4 addresses) of an instance, or None if it did not answer."""
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        try:
            ok = await info.async_request(self._zc().zeroconf, int(timeout * 1000))
        except ZeroconfError as e:
            log.debug("resolving %s failed: %r", name, e)
            return None
        if not ok or info.text is None:
            return None
        return bytes(info.text), info.parsed_addresses(IPVersion.V4Only)

    async def async_close(self) -> None:
        """Send goodbyes for our service, stop browsing and close the sockets."""
        if self._aiozc is None:
            return
        aiozc, self._aiozc = self._aiozc, None
        self._cancel_repeats()  # the goodbyes below supersede them
        try:
            if self._browser is not None:
                await self._browser.async_cancel()
            if self._seen is not None:
                aiozc.zeroconf.async_remove_listener(self._seen)
            if self._info is not None:
                await (await aiozc.async_unregister_service(self._info))
            await aiozc.async_close()
        except (TimeoutError, ZeroconfError, OSError) as e:
            log.warning("closing mDNS on %s: %r", self.address, e)
        finally:
            self._browser = None
            self._seen = None
            self._info = None
