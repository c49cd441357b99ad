"""The TXT record codec: ``Announcement`` <-> DNS TXT rdata bytes. Pure.

The rdata is a sequence of length-prefixed ``key=value`` strings (RFC 6763 §6).
Only the keys below are ever written, so nothing else (a secret in particular)
can leak into a record; unknown keys from newer peers are ignored when parsing.
"""

from __future__ import annotations

from typing import Final, cast

from discovery.errors import TxtError
from discovery.model import Announcement, Role

TXT_VERSION: Final = "1"
# Our key -> Announcement field. Short keys keep the record small (it rides in
# every answer); the record is far below the 1300-byte single-packet budget.
_KEYS: Final = {
    "id": "node_id",
    "cl": "cluster_name",
    "cid": "cluster_id",
    "api": "api_port",
    "raft": "raft_port",
    "ver": "version",
    "role": "role",
    "host": "hostname",
    "fp": "cert_fp",
}
# Written only while true. A peer that does not send it (an older version) counts
# as settled: the safe reading, since a settled cluster never dissolves by itself.
YOUNG_KEY: Final = "yg"
_REQUIRED: Final = ("txtvers", "id", "cl", "api", "raft", "ver", "role")
MAX_TXT_BYTES: Final = 1300


def encode_txt(a: Announcement) -> bytes:
    """The TXT rdata for an announcement (fields validated on construction)."""
    pairs = [("txtvers", TXT_VERSION)]
    pairs += [(key, str(getattr(a, field))) for key, field in _KEYS.items()]
    if a.young:
        pairs.append((YOUNG_KEY, "1"))
    out = bytearray()
    for key, value in pairs:
        item = f"{key}={value}".encode("ascii")
        if len(item) > 255:
            raise TxtError(f"TXT entry {key!r} is longer than 255 bytes")
        out.append(len(item))
        out += item
    if len(out) > MAX_TXT_BYTES:
        raise TxtError("TXT record is too large for one mDNS packet")
    return bytes(out)


def split_txt(data: bytes) -> dict[str, str]:
    """The key/value pairs of TXT rdata. Keys are case-insensitive: lowercased.

    Per RFC 6763 §6.4 a repeated key keeps its first value; an entry without '='
    is a boolean attribute (value ""); a zero-length entry is skipped.
    """
    if len(data) > MAX_TXT_BYTES * 2:
        raise TxtError("TXT record is unreasonably large")
    pairs: dict[str, str] = {}
    i = 0
    while i < len(data):
        n = data[i]
        i += 1
        if i + n > len(data):
            raise TxtError("TXT record is truncated")
        raw = data[i : i + n]
        i += n
        if not raw:
            continue
        key_b, _, value_b = raw.partition(b"=")
        try:
            key, value = key_b.decode("ascii").lower(), value_b.decode("ascii")
        except UnicodeDecodeError:
            raise TxtError("TXT record holds non-ASCII text") from None
        if not key:
            raise TxtError("TXT entry with an empty key")
        pairs.setdefault(key, value)
    return pairs


def parse_txt(data: bytes) -> Announcement:
    """Parse a peer's TXT rdata into a validated ``Announcement`` or raise TxtError."""
    pairs = split_txt(data)
    missing = [k for k in _REQUIRED if k not in pairs]
    if missing:
        raise TxtError(f"TXT record lacks {', '.join(missing)}")
    if pairs["txtvers"] != TXT_VERSION:
        raise TxtError(f"unsupported TXT version {pairs['txtvers']!r}")
    ports: dict[str, int] = {}
    for key in ("api", "raft"):
        value = pairs[key]
        if not value.isdigit() or len(value) > 5:
            raise TxtError(f"{key} port {value!r} is not a port number")
        ports[key] = int(value)
    return Announcement(
        node_id=pairs["id"],
        cluster_name=pairs["cl"],
        cluster_id=pairs.get("cid", ""),
        api_port=ports["api"],
        raft_port=ports["raft"],
        version=pairs["ver"],
        role=cast(Role, pairs["role"]),  # validated by Announcement itself
        hostname=pairs.get("host", ""),
        young=pairs.get(YOUNG_KEY) == "1" and bool(pairs.get("cid")),
        cert_fp=pairs.get("fp", ""),
    )
