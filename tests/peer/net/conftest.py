"""A real OVN northbound ovsdb-server in a temporary directory."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hypervisor import ovnhost
from hypervisor.ovnhost import OvnPaths
from hypervisor.ovsdb import OvsdbClient
from tests.util import wait_for


@pytest.fixture
def nb(tmp_path: Path) -> Iterator[OvsdbClient]:
    p = OvnPaths(tmp_path / "ovn")
    ovnhost.prepare_dirs(p)
    ovnhost.fresh_central(p)
    d = next(d for d in ovnhost.central_daemons(p, "127.0.0.1") if d.name == "ovsdb-nb")
    # No TCP listener for the test: only the unix socket.
    argv = [a for a in d.argv if not a.startswith("--remote=ptcp")]
    proc = subprocess.Popen(argv, env={**d.env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    client = OvsdbClient(f"unix:{p.nb_sock}")
    try:
        wait_for(lambda: p.nb_sock.exists() and client.ping(), 10, "the NB ovsdb-server")
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
