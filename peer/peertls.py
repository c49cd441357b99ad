"""How one peer reaches another over TLS: pinned to the certificate it must show.

Peers use self-signed certificates, so no chain can be checked; instead every
call to another peer is pinned to a SHA-256 fingerprint learnt in a way a man in
the middle cannot forge:

* a member: the fingerprint in its ``nodes`` record (``tls.sha256``), which the
  host itself committed through Raft (peer/node_record.py);
* a host being joined: the certificate the responder bound its proof of the
  cluster secret to (peer/join.py);
* a factory host: the certificate it bound its proof of the pairing code to
  (peer/pairing.py).

A connection to anything else fails before a byte of the request (a caller's
token, the cluster secret) is sent: aiohttp checks the fingerprint right after
the TLS handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
from typing import Any

import aiohttp
from yarl import URL

from peer.api.errors import ApiError, Unavailable

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class PeerUnverified(ApiError):
    """The other peer showed a certificate other than the one it must show."""

    status = 502
    code = "peer_unverified"


def normalize_fp(fp: str) -> str:
    """``AA:BB:..`` (as browsers show it) or hex -> 64 lowercase hex; ValueError if neither."""
    hexfp = fp.replace(":", "").strip().lower()
    if not _HEX64.match(hexfp):
        raise ValueError(f"{fp!r} is not a SHA-256 certificate fingerprint")
    return hexfp


def pinned(fp: str) -> aiohttp.Fingerprint:
    """What to pass as ``ssl=`` to aiohttp: only the certificate with this SHA-256."""
    return aiohttp.Fingerprint(bytes.fromhex(normalize_fp(fp)))


def unverified_ssl() -> ssl.SSLContext:
    """For the first contact only (reading which certificate a host shows); never
    for a request that carries a credential or a secret."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def node_fp(record: dict[str, Any] | None, node: str, what: str) -> str:
    """The pinned fingerprint of ``node`` from its record (503 while it has none)."""
    tls = (record or {}).get("tls") or {}
    fp = tls.get("sha256") if isinstance(tls, dict) else None
    if not isinstance(fp, str) or not fp:
        raise Unavailable(
            f"{what}'s host {node} has not published its certificate yet: "
            "it cannot be verified, so nothing is sent to it",
            code="peer_unverified",
        )
    try:
        return normalize_fp(fp)
    except ValueError:
        raise Unavailable(f"{what}'s host {node} published a malformed certificate") from None


def mismatch(node: str, what: str) -> PeerUnverified:
    return PeerUnverified(
        f"{what}'s host {node} answered with a certificate that does not match its node "
        "record: refused (a man in the middle, or the host's certificate was replaced "
        "and it has not published the new one yet)",
        node=node,
    )


async def peer_cert_fp(api_url: str, timeout: float = 5.0) -> str:
    """SHA-256 hex of the certificate the host at ``api_url`` presents (first
    contact: nothing is sent on this connection)."""
    url = URL(api_url)
    host, port = url.host or "", url.port or 443
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=unverified_ssl()), timeout
    )
    try:
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not der:
        raise ssl.SSLError("the host presented no certificate")
    return hashlib.sha256(der).hexdigest()
