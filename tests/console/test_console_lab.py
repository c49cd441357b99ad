"""The real console in tmux against a real peer in the lab: every screen shows
live data, the SSH timer expires, the lockout holds across console restarts, a
static address is applied in the host's namespace and rolled back unless
confirmed, the emergency shell is logged."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import pytest

from chaos.lab import Host, Lab
from tests.console.conftest import sock
from tests.console.tmux import TmuxConsole
from tests.util import LocalApi, wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]


@pytest.fixture
def console(member: tuple[Lab, Host, str]) -> Iterator[TmuxConsole]:
    _, host, _ = member
    c = TmuxConsole(sock(host), "--confirm-seconds", "8", "--test-ssh-seconds", "6")
    try:
        c.wait(r"Role:\s+leader", 30)
        yield c
    finally:
        c.close()


def login(c: TmuxConsole, password: str) -> None:
    c.wait("needs an administrator's password")
    c.type(password)
    c.keys("Enter")


def audit(api: LocalApi) -> list[tuple[str, str]]:
    return [(a["action"], a["result"]) for a in api.get("/audit?limit=1000")["items"]]


def test_main_screen_shows_live_data(member: tuple[Lab, Host, str], console: TmuxConsole) -> None:
    lab, host, _ = member
    api = LocalApi(sock(host))
    peer = api.get("/peer")
    text = console.wait(r"CPU:\s+\[[#.]+\] \d+%")
    console.save("main")
    assert re.search(r"Hostname:\s+h1", text)
    assert re.search(rf"Cluster:\s+{lab.name}", text)
    assert re.search(r"Cluster health:\s+healthy", text)
    assert f"https://{host.address}:8443/" in text
    assert re.search(rf"Management IP:\s+{re.escape(host.address)}\s+on eth0", text)
    assert re.search(r"Memory:\s+\[[#.]+\] \d+% \(", text)
    assert re.search(r"VMs:\s+0 running on this host", text)
    assert f"QUANTIX {peer['version']}" in text
    # It refreshes by itself: the peer's uptime moves without a key.
    first = re.search(r"peer (.*)", text)
    assert first
    console.wait_gone(re.escape(first.group(0)), 10)
    console.keys("F5")
    console.wait("Refreshed.")


def test_cluster_and_diagnostics_screens(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    console.keys("F4")
    text = console.wait(r"h1\s+10\.77\.\S+\s+active\s+leader")
    console.save("cluster")
    assert "HOST" in text and "LEASE" in text
    console.keys("Escape")
    console.wait(r"Role:\s+leader")
    console.keys("F7")
    text = console.wait(r"Peer log:\s+\d+ errors, \d+ warnings since start")
    console.save("diagnostics")
    assert re.search(r"CPU:\s+\S", text) and "Recent log" in text
    assert re.search(r"NICs:\s+eth0 \(up\)", text)


def test_services_power_and_shell_are_authenticated_and_recorded(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    _, host, password = member
    api = LocalApi(sock(host))
    console.keys("F6")
    login(console, password)
    console.wait("Restart services")
    console.keys("1", "y")
    console.wait(r"peer: restart recorded \(lab/test host: not executed\)")
    console.keys("Escape")
    console.keys("F10")  # authenticated a moment ago: no second prompt
    console.wait(r"\[R\] Reboot this host")
    console.keys("r")
    console.wait("Press Y to reboot now")
    console.keys("y")
    console.wait(r"reboot recorded \(lab/test host: the machine is not touched\)")
    console.save("power")
    assert api.get("/host/status")["last_recorded"]["action"] == "reboot"
    console.keys("Escape", "F12")
    console.wait("Break-glass root shell")
    console.keys("Enter")
    console.wait("Quantix emergency shell")
    console.type("echo SHELL-OK-$((6*7))")
    console.keys("Enter")
    console.wait("SHELL-OK-42")
    console.type("exit")
    console.keys("Enter")
    console.wait(r"Shell closed \(exit status 0\)")
    actions = audit(api)
    for action in (
        "POST /api/v1/host/shell",
        "POST /api/v1/host/power",
        "POST /api/v1/host/services/restart",
    ):
        assert (action, "ok") in actions


def test_ssh_timer_counts_down_and_expires(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    """The console asks for a 6 s timer (allowed on lab peers only); the peer
    turns SSH off when it ends and audits it."""
    _, host, password = member
    api = LocalApi(sock(host))
    console.keys("F3")
    login(console, password)
    console.wait(r"Status:\s+SSH disabled")
    console.keys("e")
    text = console.wait(r"Auto-disable in: 00:0[3-6]")
    console.save("ssh-enabled")
    first = int(re.search(r"Auto-disable in: 00:(\d\d)", text).group(1))  # type: ignore[union-attr]
    text = console.wait(rf"Auto-disable in: 00:0[0-{first - 1}]", 10)
    console.wait(r"Status:\s+SSH disabled", 15)
    console.save("ssh-expired")
    assert api.get("/host/status")["ssh"]["mode"] == "off"
    wait_for(lambda: ("ssh.expired", "ok") in audit(api), 10, "the expiry audit record")
    assert ("POST /api/v1/host/ssh", "ok") in audit(api)
    # Timers are 5-120 minutes (seconds are accepted from lab/test peers only).
    assert api.post("/host/ssh", {"action": "enable", "minutes": 3})[0] == 422


def _static(host: Host, api: LocalApi, last: int) -> tuple[str, str]:
    cur = api.get("/host/status")["network"]["addresses"][0]
    iface = ipaddress.IPv4Interface(cur)
    new = ipaddress.IPv4Interface(
        f"{iface.network.network_address + last}/{iface.network.prefixlen}"
    )
    return cur, str(new)


def _has(lab: Lab, host: Host, address: str) -> bool:
    """Whether eth0 in the host's namespace carries ``address`` (a.b.c.d/p)."""
    return f"inet {address} " in _addrs(lab, host)


def _addrs(lab: Lab, host: Host) -> str:
    return str(
        lab.exec(
            host.name, ["ip", "-4", "-o", "addr", "show", "eth0"], capture_output=True, text=True
        ).stdout
    )


def _apply_address(console: TmuxConsole, new: str) -> None:
    console.wait("New settings")
    console.keys("Down", "Down")
    console.keys(*["BSpace"] * 20)
    console.type(new)
    console.keys("Enter", "Enter", "Enter", "Enter", "Enter")


def test_static_address_rolls_back_unless_confirmed(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    lab, host, password = member
    api = LocalApi(sock(host))
    old, new = _static(host, api, 200)
    console.keys("F2")
    login(console, password)
    _apply_address(console, new)
    console.wait(r"Rolling back in 00:0\d unless you keep them")
    console.save("network-pending")
    assert _has(lab, host, new)
    # Nobody confirms: the peer's timer puts the old address back.
    console.wait("Not confirmed in time: the previous settings are back.", 20)
    console.save("network-rolled-back")
    wait_for(lambda: _has(lab, host, old), 10, "the old address back")
    assert not _has(lab, host, new)
    wait_for(lambda: ("network.rollback", "ok") in audit(api), 10, "the rollback audit")


def test_rollback_happens_in_the_peer_when_the_console_dies(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    lab, host, password = member
    old, new = _static(host, LocalApi(sock(host)), 202)
    console.keys("F2")
    login(console, password)
    _apply_address(console, new)
    console.wait("Rolling back in")
    assert _has(lab, host, new)
    console.close()  # the console is gone; the peer's timer is not
    wait_for(lambda: _has(lab, host, old), 20, "the old address back")
    assert not _has(lab, host, new)


def test_static_address_kept_when_confirmed(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    lab, host, password = member
    api = LocalApi(sock(host))
    old, new = _static(host, api, 201)
    console.keys("F2")
    login(console, password)
    _apply_address(console, new)
    console.wait("Rolling back in")
    console.keys("Enter")
    console.wait("Network settings kept.")
    assert _has(lab, host, new)
    assert api.get("/host/status")["network"].get("pending") is None
    # Put the lab's address back for the other tests (through the API).
    status, _ = api.post("/host/network", {"mode": "static", "address": old})
    assert status == 202
    assert api.post("/host/network/confirm")[0] == 200
    assert _has(lab, host, old)


def test_change_unconfirmed_when_the_peer_stops_is_rolled_back_at_start(
    member: tuple[Lab, Host, str],
) -> None:
    lab, host, _ = member
    api = LocalApi(sock(host))
    old, new = _static(host, api, 203)
    status, _ = api.post("/host/network", {"mode": "static", "address": new, "confirm_s": 600})
    assert status == 202 and _has(lab, host, new)
    assert lab.stop(host.name)
    assert _has(lab, host, new)  # the peer is down; its change is still there
    lab.start(host.name)
    wait_for(lambda: api.get("/cluster")["leader"], 90, "the peer back as leader")
    assert _has(lab, host, old) and not _has(lab, host, new)
    assert api.get("/host/status")["network"].get("pending") is None


def test_five_wrong_passwords_lock_the_console_across_restarts(
    member: tuple[Lab, Host, str], console: TmuxConsole
) -> None:
    _, host, password = member
    api = LocalApi(sock(host))
    try:
        console.keys("F2")
        for i in range(4):
            login(console, f"wrong-{i}")
            console.wait(rf"\({4 - i} attempts left\)")
        login(console, "wrong-4")
        console.wait(r"The console is LOCKED for 1[45]:\d\d")
        console.save("locked")
        assert api.get("/host/status")["console"]["locked"]
        # A new console (the old one killed): still locked, even with the right password.
        console.close()
        again = TmuxConsole(sock(host))
        try:
            again.wait(r"Console:\s+LOCKED for 1[45]:\d\d")
            again.keys("F3")
            again.wait(r"The console is LOCKED for")
            status, body = api.post("/host/auth", {"password": password})
            assert status == 423 and body["code"] == "console_locked"
        finally:
            again.close()
    finally:
        api.post("/host/console/unlock")
    assert api.post("/host/auth", {"password": password})[0] == 200


def test_factory_host_set_up_later_joins_with_f4_then_leaves(
    member: tuple[Lab, Host, str],
) -> None:
    """Wizard with 'later', then F4 J with the host's local password joins the
    lab's cluster by name and secret; F4 L makes it leave again (after a warning):
    it is removed from the cluster and comes back in factory state."""
    lab, first, _ = member
    host = lab.add_host(factory=True)
    api, leader_api = LocalApi(sock(host)), LocalApi(sock(first))
    c = TmuxConsole(sock(host))
    try:
        c.wait("Welcome to Quantix", 30)
        c.keys("Enter")
        c.wait("2/4 Admin account")
        c.type("local-pass-1")
        c.keys("Enter")
        c.type("local-pass-1")
        c.keys("Enter")
        c.wait("3/4 Management network")
        c.keys("Enter", "Enter", "Enter", "Enter")
        c.wait("4/4 SSH and cluster")
        c.keys("Enter", "Right")
        c.wait(r"Cluster:\s+< later >")
        c.keys("Enter", "Enter", "Enter")
        c.wait("The host waits to be adopted into a cluster")
        c.keys("Enter")
        c.wait(r"Role:\s+factory state")
        # The pairing code an admin adopts this host with, and only on its console.
        code = (host.data_dir / "pairing-code").read_text().strip()
        c.wait(rf"Pairing code:\s+{code}")
    finally:
        c.close()
    c = TmuxConsole(sock(host))  # a new console: not unlocked any more
    try:
        c.wait(r"Role:\s+factory state", 30)
        c.keys("F4")
        c.wait(r"Cluster:\s+\(none: this host is in factory state\)")
        c.keys("j")
        login(c, "local-pass-1")
        c.wait("Join a cluster")
        c.type(lab.name)
        c.keys("Enter")
        c.type(lab.cluster_secret())
        c.keys("Enter")
        c.wait(f"Joining cluster '{lab.name}'")
        text = c.wait(rf"Cluster:\s+{lab.name}", 60)
        assert "Role:" in text
        wait_for(lambda: len(leader_api.get("/cluster")["members"]) == 2, 60, "two cluster members")
        c.keys("F4")
        c.wait(r"(?s)(?=.*h1\s+10\.77\.\S+\s+active\s+leader)(?=.*h2\s+10\.77\.\S+\s+active)", 30)
        c.save("cluster-two-hosts")
        c.keys("l")
        c.wait("Remove this host from cluster")
        c.save("leave-warning")
        node_id = api.get("/peer")["node_id"]
        c.keys("y")
        # POST /nodes/{self}/leave: no VMs here, so it is removed at once and the
        # peer starts again in factory state (the console follows it).
        c.wait("Leaving the cluster")
        c.wait(r"Role:\s+factory state", 90)
        assert leader_api.get(f"/nodes/{node_id}")["state"] == "removed"
    finally:
        c.close()
