"""The web UI's component tests (Vitest, jsdom), run from the Python suite."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEBUI = Path(__file__).resolve().parents[2] / "webui"


def test_component_tests_pass() -> None:
    """`npm test -- --run` in webui/: validation, the VM table, the create wizard,
    login (session + failover token), failover to another member."""
    assert shutil.which("node"), "node is missing (the machine ships Node 20)"
    if not (WEBUI / "node_modules").is_dir():
        pytest.fail("webui/node_modules is missing: run scripts/setup.sh (make test does)")
    proc = subprocess.run(
        ["npm", "test", "--silent", "--", "--run", "--reporter=dot"],
        cwd=WEBUI,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
