"""Holes 4 and 6 on real hosts with ``firewall: true`` (nftables in each lab
namespace): the cluster forms and a guest moves live through the firewall, while
a stranger on the LAN reaches neither the Raft port nor a migration port."""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.lab import Host, Lab
from testkit.labguest import guest_vm, register_test_guest, serial, ticks
from tests.peer.test_ha_lab import api, running_on, three_voters
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="qxw", dir="/tmp"))
    lab = Lab("w" + secrets.token_hex(3), root, firewall=True)
    try:
        yield lab
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)


def reaches(addr: str, port: int) -> bool:
    """From this machine (on the lab's bridge, not a member)."""
    try:
        socket.create_connection((addr, port), timeout=1.5).close()
        return True
    except OSError:
        return False


def raft_members(h: Host) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", h.netns, "nft", "list", "set", "inet", "quantix", "raft_members"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_members_only_on_the_raft_port_and_a_live_move_through_the_firewall(lab: Lab) -> None:
    hosts = lab.up(3)
    wait_for(lambda: three_voters(hosts), 120, "3 voters behind the firewall")
    for h in hosts:
        listed = raft_members(h)
        assert all(o.address in listed for o in hosts), listed
        assert not reaches(h.address, 8444), f"a stranger reached {h.name}'s Raft port"
        assert reaches(h.address, 8443)  # the API stays open to the LAN
    apis = {api(h).get("/peer")["node_id"]: api(h) for h in hosts}
    via = api(hosts[0])
    boot = register_test_guest(via)
    status, body = via.post("/vms", guest_vm("fw0", boot, desired="running"))
    assert status == 201, body
    vm = body["id"]
    wait_for(lambda: running_on(hosts[0], vm), 120, "the guest running")
    wait_for(lambda: len(ticks(serial(apis, vm))) >= 2, 120, "the guest ticking")
    source = running_on(hosts[0], vm)
    target = next(n for n in apis if n != source)
    status, task = via.post(f"/vms/{vm}/migrate", {"node": target, "live": True})
    assert status == 202, task

    done = wait_for(
        lambda: (t := via.get(f"/tasks/{task['id']}"))["state"] in ("done", "failed") and t,
        90,
        "the live migration to end",
    )
    assert done["state"] == "done" and done["result"]["kind"] == "live", done
    assert running_on(hosts[0], vm) == target
    # QEMU listened on a port of the guarded range (strangers' packets dropped).
    logs = "".join((h.dir / "peer.log").read_text(errors="replace") for h in hosts)
    ports = [
        int(p) for p in re.findall(r"waiting for the guest from \S+ at tcp:[\d.]+:(\d+)", logs)
    ]
    assert ports and all(49152 <= p <= 49215 for p in ports), ports
