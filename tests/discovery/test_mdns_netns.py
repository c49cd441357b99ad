"""Real mDNS between network namespaces: announcers see each other, goodbyes, expiry.

Each host of a lab (no peer started) runs ``python -m discovery announce`` on
its eth0 address; the JSON lines it prints are the table changes it saw.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.lab import Lab
from tests.util import wait_for

pytestmark = [pytest.mark.xdist_group("lab"), pytest.mark.lab]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab("d" + secrets.token_hex(3), tmp_path / "labs", peer_cmd=["true"])
    try:
        yield lab
    finally:
        lab.down()


class Announcer:
    def __init__(self, lab: Lab, host: str, *args: str) -> None:
        self.host = host
        self.out = lab.host(host).dir / "announce.jsonl"
        if "--interface" not in args:
            args = ("--address", lab.host(host).address, *args)
        argv = [sys.executable, "-m", "discovery", "announce", "--node-id", host, *args]
        with open(self.out, "w") as f:
            self.proc = lab.popen(host, argv, stdout=f, stderr=subprocess.STDOUT)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.out.read_text().splitlines() if x.startswith("{")]

    def table(self) -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for e in self.events():
            if e["event"] in ("added", "updated"):
                seen[e["node_id"]] = e
            elif e["event"] == "removed":
                seen.pop(e["node_id"], None)
        return seen

    def decision(self) -> tuple[str, str | None] | None:
        ds = [e for e in self.events() if e["event"] == "decision"]
        return (ds[-1]["action"], ds[-1]["target"]) if ds else None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def test_announcers_see_each_other_factory_decisions_and_goodbye(lab: Lab) -> None:
    lab.up(2, start=False)
    lab.add_host(factory=True, start=False)
    t0 = time.monotonic()
    a = {
        "h1": Announcer(lab, "h1", "--cluster", "prod", "--decide"),
        "h2": Announcer(lab, "h2", "--cluster", "prod", "--decide"),
        "h3": Announcer(lab, "h3", "--decide"),  # factory state
    }
    wait_for(
        lambda: all(len(x.table()) == 2 for x in a.values()),
        10,
        "every announcer to see the two others",
        explain=lambda: {k: x.table() for k, x in a.items()},
    )
    seen_after = time.monotonic() - t0
    assert a["h1"].table()["h3"]["role"] == "factory" and a["h1"].table()["h3"]["cluster"] == ""
    assert a["h3"].table()["h2"]["role"] == "joining" and a["h3"].table()["h2"]["cluster"] == "prod"
    assert a["h2"].table()["h1"]["address"] == lab.host("h1").address
    # The bootstrap rule over real mDNS: h1 (lowest id) bootstraps, h2 waits for it.
    wait_for(lambda: a["h1"].decision() == ("bootstrap", None), 10)
    wait_for(lambda: a["h2"].decision() == ("wait", "h1"), 10)
    assert a["h3"].decision() == ("none", None)
    # Goodbye: a stopping host leaves the others' tables at once, not after its TTL.
    t1 = time.monotonic()
    a["h1"].stop()
    wait_for(lambda: "h1" not in a["h2"].table() and "h1" not in a["h3"].table(), 5)
    gone_after = time.monotonic() - t1
    wait_for(lambda: a["h2"].decision() == ("bootstrap", None), 5)
    print(f"seen each other after {seen_after:.2f}s; goodbye removed h1 after {gone_after:.2f}s")


def test_killed_bootstrapper_expires_next_takes_over_and_it_comes_back(lab: Lab) -> None:
    lab.up(2, start=False)
    a1 = Announcer(lab, "h1", "--cluster", "prod", "--decide", "--ttl", "3")
    a2 = Announcer(lab, "h2", "--cluster", "prod", "--decide", "--ttl", "3")
    wait_for(lambda: a2.decision() == ("wait", "h1"), 15)
    lab.kill("h1")  # kill -9: no goodbye, the records must expire
    t0 = time.monotonic()
    wait_for(lambda: "h1" not in a2.table(), 30)
    wait_for(lambda: a2.decision() == ("bootstrap", None), 5)
    print(f"h1 expired from h2's table {time.monotonic() - t0:.1f}s after kill -9")
    assert a1.proc.wait(5) == -9
    # It comes back: seen again although its PTR never left zeroconf's cache.
    Announcer(lab, "h1", "--cluster", "prod", "--ttl", "3")
    wait_for(lambda: "h1" in a2.table(), 10)
    wait_for(lambda: a2.decision() == ("wait", "h1"), 5)


def test_same_name_two_cluster_instances_is_reported_as_split_brain(lab: Lab) -> None:
    lab.up(3, start=False)
    a1 = Announcer(lab, "h1", "--cluster", "prod", "--role", "leader", "--cluster-id", "c1")
    Announcer(lab, "h2", "--cluster", "prod", "--role", "leader", "--cluster-id", "c2")
    Announcer(lab, "h3", "--cluster", "blue", "--role", "leader", "--cluster-id", "c3")

    def reported() -> list[dict[str, Any]]:
        return [e for e in a1.events() if e["event"] == "split_brain"]

    wait_for(lambda: len(reported()) == 1, 10)
    wait_for(lambda: "h3" in a1.table(), 5)
    [sb] = reported()
    assert sb["cluster"] == "prod" and sb["instances"] == {"c1": ["h1"], "c2": ["h2"]}
    assert "SPLIT BRAIN" in a1.out.read_text()  # logged loudly on stderr too


def test_address_change_on_the_interface_is_re_announced(lab: Lab) -> None:
    lab.up(2, start=False)
    Announcer(lab, "h1", "--cluster", "prod", "--interface", "eth0")
    a2 = Announcer(lab, "h2", "--cluster", "prod")
    old = lab.host("h1").address
    wait_for(lambda: a2.table().get("h1", {}).get("address") == old, 10)
    new = lab.host("h1").address.rsplit(".", 1)[0] + ".250"
    prefix = "22"
    # Like a DHCP renumbering: the old address goes, a new one comes.
    lab.exec("h1", ["ip", "addr", "del", f"{old}/{prefix}", "dev", "eth0"], check=True)
    lab.exec("h1", ["ip", "addr", "add", f"{new}/{prefix}", "dev", "eth0"], check=True)
    wait_for(
        lambda: a2.table().get("h1", {}).get("address") == new,
        15,
        "h1's new address",
        explain=a2.events,
    )


def test_thread_safe_api_announces_updates_and_says_goodbye(lab: Lab) -> None:
    lab.up(2, start=False)
    a2 = Announcer(lab, "h2", "--cluster", "prod")
    script = Path(__file__).with_name("sync_peer.py")
    p = lab.popen("h1", [sys.executable, str(script), "h1", lab.host("h1").address],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert p.stdin is not None and p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    wait_for(lambda: a2.table().get("h1", {}).get("role") == "joining", 10)
    p.stdin.write("update leader c-42\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "updated"
    wait_for(lambda: a2.table().get("h1", {}).get("cluster_id") == "c-42", 5)
    assert a2.table()["h1"]["role"] == "leader"
    p.stdin.write("stop\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "stopped"
    assert p.wait(10) == 0
    wait_for(lambda: "h1" not in a2.table(), 5)
