"""With ``firewall: true``: the hosts' controllers reach the southbound database
on the central host, a stranger on the data network does not."""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.lab import Lab
from tests.peer.test_ha_lab import api
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="qxg", dir="/tmp"))
    lab = Lab("g" + secrets.token_hex(3), root, firewall=True)
    try:
        yield lab
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)


def reaches(addr: str, port: int) -> bool:
    try:
        socket.create_connection((addr, port), timeout=1.5).close()
        return True
    except OSError:
        return False


def test_only_the_hosts_reach_the_southbound_database(lab: Lab) -> None:
    hosts = lab.up(2, data_net=True)
    peers = wait_for(lambda: [api(h).get("/peer") for h in hosts], 120, "the peers' APIs")

    def ready() -> bool:
        nets = [api(h).get("/peer").get("network") or {} for h in hosts]
        return all(n.get("sb_remote") for n in nets)

    wait_for(ready, 120, "every chassis pointed at the central databases")
    central = next(h for h in hosts if api(h).get("/peer")["network"]["central"])
    sb = str(api(central).get("/peer")["network"]["sb_remote"]).split(":")[1]
    # Both controllers connected (each chassis registered itself in the southbound db).
    sock = central.data_dir / "ovn" / "run" / "ovnsb_db.sock"

    def chassis() -> int:
        res = lab.exec(central.name, ["ovn-sbctl", f"--db=unix:{sock}", "--timeout=5",
                                      "--columns=name", "list", "chassis"],
                       capture_output=True, text=True, timeout=15)  # fmt: skip
        return res.stdout.count("name")

    wait_for(lambda: chassis() == 2, 60, "both chassis registered")
    # A stranger: this machine, given an address on the data network's bridge.
    st = lab.state()
    assert st.data_bridge and st.data_subnet
    stranger = str(ipaddress.IPv4Network(st.data_subnet).broadcast_address - 1)
    subprocess.run(["ip", "addr", "add", f"{stranger}/22", "dev", st.data_bridge], check=True)
    try:
        assert not reaches(sb, 6642), "a stranger reached the southbound database"
    finally:
        subprocess.run(["ip", "addr", "del", f"{stranger}/22", "dev", st.data_bridge], check=False)
    assert len(peers) == 2
