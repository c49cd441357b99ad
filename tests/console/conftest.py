from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.lab import Host, Lab
from tests.util import LocalApi, wait_for


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Host, str]]:
    """A one-host lab cluster: (lab, host, admin password)."""
    lab = Lab("k" + secrets.token_hex(3), tmp_path_factory.mktemp("labs"))
    try:
        hosts = lab.up(1)
        api = LocalApi(hosts[0].dir / "peer.sock")
        wait_for(lambda: api.get("/cluster")["leader"], 90, "the lab cluster")
        password = lab.admin_password(30)
        assert password
        yield lab, hosts[0], password
    finally:
        lab.down()


def sock(h: Host) -> Path:
    return h.dir / "peer.sock"
