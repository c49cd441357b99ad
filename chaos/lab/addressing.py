"""Names and addresses of a lab's hosts. Pure.

Every lab gets one /22 of 10.77.0.0/16 (64 labs side by side, 1021 hosts each):
the bridge holds the block's .1 so this machine (and a browser on it) reaches
every peer; host hN gets the block's (N+1)th address. Linux interface names
are at most 15 bytes, which bounds the lab name at 8 characters.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Final

from chaos.lab.errors import LabError

LAB_NET: Final = ipaddress.IPv4Network("10.77.0.0/16")
BLOCK_PREFIX: Final = 22
MAX_HOSTS: Final = 2 ** (32 - BLOCK_PREFIX) - 3  # minus network, bridge, broadcast
NAME_RE: Final = re.compile(r"^[a-z0-9]{1,8}$")
NS_PREFIX: Final = "qx-"


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise LabError(f"lab name {name!r} must be 1-8 lowercase letters or digits")


def netns_name(lab: str, index: int) -> str:
    return f"{NS_PREFIX}{lab}-h{index}"


def bridge_name(lab: str) -> str:
    return f"qxbr-{lab}"


def veth_name(lab: str, index: int) -> str:
    return f"qv{lab}-{index}"


def host_name(index: int) -> str:
    return f"h{index}"


def netns_re(lab: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(NS_PREFIX + lab)}-h(\d+)$")


def veth_re(lab: str) -> re.Pattern[str]:
    return re.compile(rf"^qv{re.escape(lab)}-(\d+)$")


def blocks() -> list[ipaddress.IPv4Network]:
    return list(LAB_NET.subnets(new_prefix=BLOCK_PREFIX))


def pick_block(used_addresses: Iterable[str]) -> ipaddress.IPv4Network:
    """The first /22 of the lab range holding none of ``used_addresses``."""
    used = [ipaddress.IPv4Address(a) for a in used_addresses]
    for block in blocks():
        if not any(a in block for a in used):
            return block
    raise LabError("every lab subnet of 10.77.0.0/16 is in use: take a lab down first")


def bridge_address(block: ipaddress.IPv4Network) -> str:
    return str(block.network_address + 1)


def host_address(block: ipaddress.IPv4Network, index: int) -> str:
    if not 1 <= index <= MAX_HOSTS:
        raise LabError(f"a lab holds hosts h1..h{MAX_HOSTS}, not h{index}")
    return str(block.network_address + 1 + index)


DATA_NET: Final = ipaddress.IPv4Network("10.78.0.0/16")


def data_bridge_name(lab: str) -> str:
    return f"qxd-{lab}"


def data_veth_name(lab: str, index: int) -> str:
    return f"qd{lab}-{index}"


def data_veth_re(lab: str) -> re.Pattern[str]:
    return re.compile(rf"^qd{re.escape(lab)}-(\d+)$")


def data_block(block: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """The data network's /22 beside a lab's management block (same offset in 10.78/16)."""
    offset = int(block.network_address) - int(LAB_NET.network_address)
    return ipaddress.IPv4Network((int(DATA_NET.network_address) + offset, BLOCK_PREFIX))
