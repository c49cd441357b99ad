"""The packet classifier behind the lab's mDNS counter. Pure."""

from __future__ import annotations

import struct

from chaos.lab.capture import is_udp_to_port


def frame(proto: int = 17, dport: int = 5353, ethertype: int = 0x0800, ihl: int = 5) -> bytes:
    eth = b"\x01\x00\x5e\x00\x00\xfb" + b"\x02" * 6 + struct.pack("!H", ethertype)
    ip = bytes([0x40 | ihl, 0]) + b"\x00" * 7 + bytes([proto]) + b"\x00" * 10
    ip += b"\x00" * (ihl * 4 - 20)  # options
    udp = struct.pack("!HHHH", 5353, dport, 8, 0)
    return eth + ip + udp


def test_mdns_over_ipv4_udp_counts() -> None:
    assert is_udp_to_port(frame(), 5353)
    assert is_udp_to_port(frame(ihl=6), 5353)  # IP options shift the UDP header


def test_other_traffic_does_not() -> None:
    assert not is_udp_to_port(frame(dport=53), 5353)
    assert not is_udp_to_port(frame(proto=6), 5353)  # TCP
    assert not is_udp_to_port(frame(ethertype=0x86DD), 5353)  # IPv6
    assert not is_udp_to_port(frame()[:30], 5353)  # truncated
