"""The web UI in a real browser (Debian's chromium via playwright-core) against a
3-host lab: log in, upload an ISO with progress, see every host's certificate,
create the test guest (direct kernel boot) and watch it run, see its console on
the canvas and its marker in the serial log, take a snapshot, stop it, kill the
host serving the page and carry on through another host.

Before the browser runs, this test makes a shared pool in the lab and registers
the test guest's kernel and initrd in it as images (through the API).

The browser is driven by ``webui/e2e/e2e.mjs``; this test owns the lab and kills
the host when the script asks (``KILL <origin>`` on its stdout). Screenshots of
every page go to ``artifacts/webui/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.lab import Lab
from chaos.lab.http import ApiError, get_json
from peer.membership import target_voters
from testkit.labguest import register_test_guest
from tests.labs import short_lab
from tests.util import LocalApi, wait_for

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "webui"
ARTIFACTS = ROOT / "artifacts" / "webui"
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.xdist_group("lab"),
    pytest.mark.lab,
]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("w") as lab:
        yield lab


def formed(lab: Lab, n: int) -> bool:
    """Every host answers with quorum and the leader has all the voters it wants
    (so the cluster survives losing the host the browser talks to)."""
    roles = []
    for h in lab.hosts():
        try:
            body = get_json(h.url + "api/v1/health", timeout=2)
        except ApiError:
            return False
        if not isinstance(body, dict) or not body.get("has_quorum"):
            return False
        roles.append(body.get("raft_role"))
    voters = [r for r in roles if r in ("leader", "follower")]
    return roles.count("leader") == 1 and len(voters) == target_voters(n)


def test_the_ui_runs_a_vm_shows_its_console_and_survives_its_host(lab: Lab) -> None:
    assert shutil.which("node"), "node is missing (the machine ships Node 20)"
    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/setup.sh installs it"
    if not (WEBUI / "dist" / "index.html").exists():
        pytest.fail("webui/dist is missing: run scripts/setup.sh (make test does)")
    hosts = lab.up(3)
    password = lab.admin_password(timeout=60)
    assert password, "no initial admin password"
    wait_for(lambda: formed(lab, 3), 180, "the cluster to form", 0.5)
    by_origin = {h.url.rstrip("/"): h.name for h in hosts}
    images = register_test_guest(LocalApi(hosts[0].dir / "peer.sock", timeout=10))
    # The browser picks the images by the names a person sees.
    guest = {
        "kernel": images["kernel_name"],
        "initrd": images["initrd_name"],
        "pool": images["pool"],
        "cmdline": images["cmdline"],
    }
    cfg = {
        "urls": [h.url for h in hosts],
        "password": password,
        "artifacts": str(ARTIFACTS),
        "guest": guest,
    }
    proc = subprocess.Popen(
        ["node", "e2e/e2e.mjs", json.dumps(cfg)],
        cwd=WEBUI,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The whole run must finish in time even if the browser hangs.
    timer = threading.Timer(600, proc.kill)
    timer.start()
    log: list[str] = []
    killed: list[str] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        for line in proc.stdout:
            log.append(line.rstrip())
            if line.startswith("KILL "):
                name = by_origin[line.split()[1].strip()]
                lab.kill(name)
                killed.append(name)
                proc.stdin.write("KILLED\n")
                proc.stdin.flush()
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "\n".join(log)
    print(out)  # the browser's steps and figures, shown with -s
    assert proc.returncode == 0, out[-5000:]
    assert killed == ["h1"], out[-3000:]
    assert "STEP done" in log
    for line in (
        "serial: QUANTIX-GUEST-READY",
        "snapshot: e2e-snap listed",
        "certificates: 3 valid",
    ):
        assert line in log, out[-3000:]
    assert any(line.startswith("upload: Ready") for line in log), out[-3000:]
    assert any(line.startswith("moved to https://") for line in log), out[-3000:]
    for name in (
        "02-dashboard",
        "04c-storage-image-ready",
        "06b-settings-certificates",
        "11-vm-console",
        "11b-vm-snapshots",
        "15-failover-dashboard",
    ):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
