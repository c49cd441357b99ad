"""The IPv4 address of a network interface, read with one ioctl (no subprocess)."""

from __future__ import annotations

import fcntl
import socket
import struct
from typing import Final

_SIOCGIFADDR: Final = 0x8915


def interface_ipv4(ifname: str) -> str | None:
    """The interface's primary IPv4 address, or None (no such interface / no address)."""
    name = ifname.encode()[:15]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            res = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name))
        except OSError:
            return None
    return socket.inet_ntoa(res[20:24])
