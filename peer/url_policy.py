"""Which addresses an image import by URL may reach (docs/security.md).

A URL import makes a host fetch whatever the caller names, from inside the
cluster's network. Loopback (the peer's own services), link-local (cloud
metadata services) and the cluster members' own addresses (their APIs and Raft
ports) are refused, and so is a redirect to them, unless node.yaml's
``url_import_allow`` names the range. Pure: the caller resolves names.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Sequence


class UrlRefused(Exception):
    """The URL names (or resolves to) an address imports may not reach."""


def refusal(address: str, allow: Sequence[str], own: Iterable[str]) -> str | None:
    """Why ``address`` may not be fetched from, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for net in allow:
        if ip in ipaddress.ip_network(net, strict=False):
            return None
    if ip.is_loopback or ip.is_unspecified:
        return f"{ip} is this host (loopback)"
    if ip.is_link_local:
        return f"{ip} is link-local (metadata services live there)"
    if ip.is_multicast or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if str(ip) in {str(a) for a in own}:
        return f"{ip} is a cluster member"
    return None


def check_literal(url: str, allow: Sequence[str], own: Iterable[str]) -> None:
    """The cheap check where the API call lands: a URL whose host is an IP
    address that imports may not reach. (Names are resolved by the importer.)"""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host in ("localhost",) or host.endswith(".localhost"):
            raise UrlRefused(f"{url}: {host} is this host (loopback)") from None
        return
    why = refusal(host, allow, own)
    if why is not None:
        raise UrlRefused(f"{url}: {why}")


def resolving_checker(allow: Sequence[str], own: Iterable[str]) -> Callable[[str], str | None]:
    """A check for the importer: every address the URL's host resolves to must be
    allowed (called again for each redirect). A name that resolves differently a
    moment later (DNS rebinding) is the residual risk: see docs/security.md.
    The check answers why a URL is refused, or None."""
    members = list(own)

    def check(url: str) -> str | None:
        """Why ``url`` may not be fetched, or None."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return "only http and https URLs are fetched"
        host = parts.hostname or ""
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError as e:
            return f"cannot resolve {host}: {e}"
        for info in infos:
            why = refusal(str(info[4][0]), allow, members)
            if why is not None:
                return why
        return None

    return check
