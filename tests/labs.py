"""A lab for one test, and the small things lab tests share."""

from __future__ import annotations

import secrets
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chaos.lab import Host, Lab
from tests.util import LocalApi


@contextmanager
def short_lab(letter: str) -> Iterator[Lab]:
    """A lab under a fresh, short /tmp root, taken down and removed afterwards.
    Short: a VM's VNC, agent and monitor sockets live under it, and unix socket
    paths are limited to 107 bytes (pytest's tmp_path is too deep)."""
    root = Path(tempfile.mkdtemp(prefix=f"qx{letter}", dir="/tmp"))
    lab = Lab(letter + secrets.token_hex(3), root)
    try:
        yield lab
    finally:
        lab.down()
        shutil.rmtree(root, ignore_errors=True)


def host_api(h: Host, timeout: float = 15) -> LocalApi:
    """A lab host's API through its local socket."""
    return LocalApi(h.dir / "peer.sock", timeout=timeout)


def lab_tls() -> ssl.SSLContext:
    """TLS to lab peers, whose certificates are self-signed."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
