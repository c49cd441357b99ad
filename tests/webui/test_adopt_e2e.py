"""A factory host adopted through the web UI in a real browser (Debian's
chromium via playwright-core): refused with a wrong pairing code, adopted with
the one its console shows (``webui/e2e/adopt.mjs``). Screenshots go to
``artifacts/webui/``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.lab import Lab
from tests.labs import host_api, short_lab
from tests.util import wait_for

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "webui"
ARTIFACTS = ROOT / "artifacts" / "webui"
pytestmark = [pytest.mark.xdist_group("lab"), pytest.mark.lab]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("a") as lab:
        yield lab


def test_a_factory_host_is_adopted_in_the_ui_with_its_pairing_code(lab: Lab) -> None:
    assert shutil.which("node"), "node is missing (the machine ships Node 20)"
    if not (WEBUI / "dist" / "index.html").exists():
        pytest.fail("webui/dist is missing: run scripts/setup.sh (make test does)")
    (member,) = lab.up(1)
    password = lab.admin_password(timeout=60)
    assert password, "no initial admin password"
    fresh = lab.add_host(factory=True)
    # What the person reads off the factory host's console.
    code = wait_for(lambda: host_api(fresh).get("/peer").get("pairing_code"), 30, "the code")
    node_id = host_api(fresh).get("/peer")["node_id"]

    def listed() -> bool:
        items = host_api(member).get("/cluster/discovered")["items"]
        return any(d["id"] == node_id for d in items)

    wait_for(listed, 60, "the member to list the factory host as discovered")
    cfg = {
        "url": member.url,
        "password": password,
        "host": fresh.name,
        "code": code,
        "artifacts": str(ARTIFACTS),
    }
    done = subprocess.run(
        ["node", "e2e/adopt.mjs", json.dumps(cfg)],
        cwd=WEBUI,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "refused: wrong code" in out and "adopted" in out, out[-4000:]
    members = {m["node_id"] for m in host_api(member).get("/cluster")["members"]}
    assert node_id in members
