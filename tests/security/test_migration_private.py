"""Hole 6: an incoming live migration is reachable by its source host only, and
viewers cannot read where it listens.

The firewall part runs real nftables in lab namespaces (the lab's hosts with a
placeholder process instead of a peer): a listener on a migration port of host
1 is reachable from host 2 (the migration's source) and not from host 3."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest

from chaos.lab import Host, Lab
from peer.api.app import build_app
from peer.context import PeerContext
from raft.store import LocalStore, put
from tests.labs import short_lab
from tests.peer.api.conftest import bearer

INCOMING = {"uri": "tcp:10.77.0.3:49160", "source": "n1", "source_epoch": 3, "error": None}


async def test_a_viewer_does_not_see_where_a_migration_listens(
    ctx: PeerContext, store: LocalStore, tokens: dict[str, str], aiohttp_client
) -> None:
    await store.commit(
        [
            put("vms", "vm1", {"name": "vm1", "placement": "n2"}),
            put("vm_status", "vm1", {"node": "n2", "state": "migrating", "incoming": INCOMING}),
        ]
    )
    client = await aiohttp_client(build_app(ctx))
    for role, sees in (("viewer", False), ("operator", True), ("admin", True)):
        for path in ("/api/v1/vms/vm1", "/api/v1/vms"):
            r = await client.get(path, headers=bearer(tokens[role]))
            body = await r.json()
            vm = body["items"][0] if "items" in body else body
            assert ("incoming" in vm["status"]) is sees, (role, path, vm["status"])
            assert vm["status"]["state"] == "migrating"


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    """Three namespaces on one bridge, each running only a placeholder."""
    with short_lab("n") as lab:
        lab_ = Lab(lab.name, lab.root, peer_cmd=["sleep", "600"])
        yield lab_.up(3, factory=True)


def _in(h: Host, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", h.netns, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


LISTEN = "import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind((sys.argv[1],int(sys.argv[2])));s.listen();print('up',flush=True);[s.accept()[0].close() for _ in iter(int,1)]"  # noqa: E501
CONNECT = "import socket,sys;socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1.5);print('ok')"  # noqa: E501


def _reaches(src: Host, dst: Host, port: int) -> bool:
    return _in(src, sys.executable, "-c", CONNECT, dst.address, str(port)).returncode == 0


@pytest.mark.lab
@pytest.mark.xdist_group("lab")
def test_only_the_source_host_reaches_a_migration_listener(hosts: list[Host]) -> None:
    from peer.firewall import Firewall

    target, source, stranger = hosts
    port = 49160
    listener = subprocess.Popen(
        ["ip", "netns", "exec", target.netns, sys.executable, "-c", LISTEN, target.address,
         str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "up"
        # Without a firewall anyone reaches it (what main does with QEMU's listener).
        assert _reaches(stranger, target, port)
        fw = Firewall(8444, (49152, 49215), nft=("ip", "netns", "exec", target.netns, "nft"))
        asyncio.run(fw.install([target.address, source.address]))
        asyncio.run(fw.allow_migration(source.address, port))
        assert _reaches(source, target, port)
        assert not _reaches(stranger, target, port)
        asyncio.run(fw.revoke_migration(source.address, port))
        assert not _reaches(source, target, port)
        asyncio.run(fw.remove())
        assert _reaches(stranger, target, port)
    finally:
        listener.kill()
        listener.wait()


@pytest.mark.lab
@pytest.mark.xdist_group("lab")
def test_only_members_reach_the_raft_port(hosts: list[Host]) -> None:
    """Hole 4's outer line: with ``firewall: true`` the Raft port answers the
    members' addresses only, and the set follows membership."""
    from peer.firewall import Firewall

    member, other, stranger = hosts
    raft = 8444
    listener = subprocess.Popen(
        ["ip", "netns", "exec", member.netns, sys.executable, "-c", LISTEN, member.address,
         str(raft)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "up"
        fw = Firewall(raft, (49152, 49215), nft=("ip", "netns", "exec", member.netns, "nft"))
        asyncio.run(fw.install([member.address, other.address]))
        assert _reaches(other, member, raft)
        assert not _reaches(stranger, member, raft)
        assert asyncio.run(fw.set_members([member.address, other.address, stranger.address]))
        assert _reaches(stranger, member, raft)  # it joined
        asyncio.run(fw.set_members([member.address, stranger.address]))
        assert not _reaches(other, member, raft)  # it was removed
    finally:
        listener.kill()
        listener.wait()
        subprocess.run(["ip", "netns", "exec", member.netns, "nft", "delete", "table", "inet",
                        "quantix"], capture_output=True, check=False)  # fmt: skip
