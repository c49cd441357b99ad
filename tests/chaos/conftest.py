"""Fixtures for lab tests: a uniquely named lab in a temporary root, always torn down."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.lab import Lab

# A stand-in for the peer until the daemon lands: a TCP server on the host's address.
STANDIN = [sys.executable, "-m", "http.server", "--bind", "{address}", "8080"]


def lab_name() -> str:
    return "t" + secrets.token_hex(3)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(lab_name(), tmp_path / "labs", peer_cmd=STANDIN)
    try:
        yield lab
    finally:
        lab.down()
