"""Count packets on an interface with a raw AF_PACKET socket (stdlib; needs root).

Used to measure mDNS traffic on the lab bridge: every packet a host sends
crosses the bridge once and is seen once on the bridge device.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Final

from chaos.lab.errors import LabError

_ETH_P_ALL: Final = 0x0003
_ETH_P_IP: Final = 0x0800
_PACKET_OUTGOING: Final = 4  # sll_pkttype of packets this machine itself sends
MDNS_PORT: Final = 5353


def is_udp_to_port(frame: bytes, port: int) -> bool:
    """True for an Ethernet frame carrying IPv4/UDP to ``port``. Pure."""
    if len(frame) < 14 + 20 + 8 or struct.unpack_from("!H", frame, 12)[0] != _ETH_P_IP:
        return False
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != socket.IPPROTO_UDP or len(frame) < 14 + ihl + 4:
        return False
    return bool(struct.unpack_from("!H", frame, 14 + ihl + 2)[0] == port)


def count_udp_packets(ifname: str, seconds: float, port: int = MDNS_PORT) -> int:
    """How many IPv4/UDP packets to ``port`` cross ``ifname`` during ``seconds``."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    except OSError as e:
        raise LabError(f"cannot open a raw socket (root needed): {e}") from None
    count = 0
    with s:
        s.bind((ifname, 0))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                frame, addr = s.recvfrom(65535)
            except TimeoutError:
                break
            if addr[2] != _PACKET_OUTGOING and is_udp_to_port(frame, port):
                count += 1
    return count
