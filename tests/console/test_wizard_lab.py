"""First boot on a factory host: the wizard, driven in tmux, names the host,
sets the admin password and founds a cluster whose admin then logs in."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from chaos.lab import Lab
from tests.console.conftest import sock
from tests.console.tmux import ARTIFACTS, TmuxConsole
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


def test_first_boot_wizard_creates_the_admin_that_logs_in(tmp_path: Path) -> None:
    lab = Lab("k" + secrets.token_hex(3), tmp_path / "labs")
    console: TmuxConsole | None = None
    try:
        (host,) = lab.up(1, factory=True)
        api = LocalApi(sock(host))
        wait_for(lambda: api.get("/host/status")["setup_required"], 30, "a factory host")
        console = TmuxConsole(sock(host))
        console.wait("Welcome to Quantix. This host has no administrator yet.", 30)
        console.wait(r"1/4 Host name")
        console.save("wizard-1-hostname")
        console.keys(*["BSpace"] * 10)
        console.type("rack7-a")
        console.keys("Enter")
        console.wait(r"2/4 Admin account")
        console.type("short")
        console.keys("Enter")
        console.type("short")
        console.keys("Enter")
        console.wait("The password needs at least 8 characters.")
        password = "Corr3ct-horse-" + secrets.token_hex(3)
        console.keys("Up", *["BSpace"] * 8)
        console.type(password)
        console.keys("Enter", *["BSpace"] * 8)
        console.type(password)
        console.keys("Enter")
        console.wait(r"3/4 Management network")
        console.keys("Enter", "Enter", "Enter", "Enter")  # keep the current network
        console.wait(r"4/4 SSH and cluster")
        console.keys("Enter", "Enter")  # SSH off; create or join
        name = "wiz" + secrets.token_hex(2)
        console.type(name)
        console.keys("Enter")
        console.type("a-long-cluster-secret")
        console.wait(r"Cluster secret:\s+\*{21}_")
        console.save("wizard-4-cluster")
        console.keys("Enter")
        console.wait(f"Joining or founding cluster '{name}'")
        console.save("wizard-done")
        console.keys("Enter")

        # Wait for the peer to say the password is set: every failed login would
        # count towards the account's lockout.
        wait_for(
            lambda: (
                api.get("/cluster")["leader"]
                and not api.get("/host/status")["admin_password_pending"]
            ),
            90,
            "the wizard's password on the cluster admin",
        )
        status, body = api.post("/auth/login", {"username": "admin", "password": password})
        assert status == 200 and body["user"] == "admin" and body["role"] == "admin"
        assert api.post("/auth/login", {"username": "admin", "password": "wrong"})[0] == 401
        text = console.wait(r"Role:\s+leader", 30)
        console.save("wizard-main-after")
        assert re.search(rf"Cluster:\s+{name}", text)
        assert re.search(r"Hostname:\s+rack7-a", text)
        # The random first password was replaced, so its file is gone.
        assert not (host.data_dir / "initial-admin-password").exists()
        assert api.post("/host/auth", {"password": password})[0] == 200
    finally:
        if console is not None:
            console.close()
        for h in lab.hosts():
            if h.log.exists():
                (ARTIFACTS / "wizard-peer.log").write_text(h.log.read_text())
        lab.down()
