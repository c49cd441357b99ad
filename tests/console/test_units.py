"""Pure parts: formatting, the form widget, network settings, lockout, SSH,
and the whole console frame from canned API answers (no terminal, no peer)."""

from __future__ import annotations

from typing import Any

import pytest

from console import fmt
from console.app import App, Options
from console.client import LocalClient
from console.screens.auth import LoginScreen
from console.screens.network import network_body
from console.ui import Field, Form
from peer.hostmgmt import lockout, netconf, telemetry
from peer.hostmgmt.errors import InvalidSettings
from peer.hostmgmt.ssh import SshState, duration, transition


def test_formatting() -> None:
    assert fmt.bar(50, 10) == "[#####.....]"
    assert fmt.bar(None, 4) == "[????]"
    assert fmt.mmss(61.2) == "01:02" and fmt.mmss(0) == "00:00"
    assert fmt.uptime(90061) == "1 day, 1 h 1 min"
    assert fmt.host_role({"raft": {"role": "factory"}}, None).startswith("factory")
    assert fmt.host_role({"raft": {"role": "follower"}}, {"voter": False}) == "replica"
    assert fmt.host_role({"raft": {"role": "leader"}}, {"state": "maintenance"}) == (
        "leader (maintenance)"
    )


def test_form_edits_moves_and_submits() -> None:
    form = Form([Field("mode", "Mode", "static", choices=["static", "dhcp"]), Field("a", "A")])
    assert not form.key("RIGHT") and form["mode"] == "dhcp"
    assert not form.key("DOWN")
    for ch in "10.0.0.5/24x":
        form.key(ch)
    form.key("BACKSPACE")
    assert form["a"] == "10.0.0.5/24"
    assert form.key("ENTER")  # Enter on the last field submits
    form.field("mode").value = "static"
    body = network_body(
        Form(
            [
                Field("mode", "", "static"),
                Field("interface", "", "eth0"),
                Field("address", "", "10.0.0.5/24"),
                Field("gateway", "", "10.0.0.1"),
                Field("dns", "", "1.1.1.1, 9.9.9.9"),
                Field("vlan", "", ""),
            ]
        ),
        30,
    )
    assert body == {
        "mode": "static",
        "confirm_s": 30,
        "interface": "eth0",
        "address": "10.0.0.5/24",
        "gateway": "10.0.0.1",
        "dns": ["1.1.1.1", "9.9.9.9"],
    }


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"mode": "static", "address": "10.0.0.5"}, "prefix"),
        ({"mode": "static", "address": "10.0.0.0/24"}, "network or broadcast"),
        ({"mode": "static", "address": "10.0.0.5/24", "gateway": "10.0.1.1"}, "not inside"),
        ({"mode": "static", "address": "10.0.0.5/24", "dns": ["x"]}, "DNS"),
        ({"mode": "static", "address": "10.0.0.5/24", "vlan": 5000}, "vlan"),
        ({"mode": "bridge"}, "mode"),
    ],
)
def test_network_settings_are_validated(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidSettings, match=problem):
        netconf.validate(raw, "eth0")


def test_network_settings_normalised() -> None:
    got = netconf.validate({"mode": "static", "address": "10.0.0.5/24", "vlan": 7}, "eth0")
    assert got["address"] == "10.0.0.5/24" and netconf.device(got) == "eth0.7"
    assert netconf.parse_resolv(netconf.render_resolv(["1.1.1.1"])) == ["1.1.1.1"]


def test_lockout_after_five_failures_for_fifteen_minutes() -> None:
    st: dict[str, Any] = {}
    for _ in range(4):
        st = lockout.after_failure(st, 1000.0)
        assert lockout.locked_until(st, 1000.0) is None
    st = lockout.after_failure(st, 1000.0)
    assert lockout.locked_until(st, 1000.0) == 1000.0 + 900
    assert lockout.locked_until(st, 1000.0 + 901) is None


def test_ssh_states() -> None:
    on = transition(SshState(), "enable", 100.0, duration(15, None, allow_seconds=False))
    assert on.remaining(160.0) == 900 - 60 and not on.expired(999.0) and on.expired(1000.0)
    assert transition(on, "expire", 1000.0).mode == "off"
    assert transition(on, "permanent", 5.0).remaining(10.0) is None
    with pytest.raises(InvalidSettings):
        duration(None, 10, allow_seconds=False)
    with pytest.raises(InvalidSettings):
        duration(4, None, allow_seconds=False)
    assert SshState.from_dict({"mode": "bogus"}).mode == "off"


def test_proc_parsers() -> None:
    busy, total = telemetry.parse_cpu_times("cpu  10 0 10 70 10 0 0 0 0 0\ncpu0 1 2 3 4\n")
    assert (busy, total) == (20, 100)
    assert telemetry.cpu_percent((0, 0), (20, 100)) == 20.0
    mem = telemetry.parse_meminfo("MemTotal: 2097152 kB\nMemAvailable: 1048576 kB\n")
    assert mem == {"total_mib": 2048, "available_mib": 1024, "used_mib": 1024}


class FakeClient(LocalClient):
    """Canned answers shaped like a running one-host lab's."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.calls: list[tuple[str, str]] = []

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        self.calls.append((method, path))
        if path == "/peer":
            return {
                "node_id": "n1",
                "hostname": "h1",
                "address": "10.0.0.2",
                "version": "0.1.0",
                "uptime_s": 75,
                "cluster_name": "c1",
                "api_port": 8443,
                "raft": {"role": "leader"},
            }
        if path == "/cluster":
            return {
                "name": "c1",
                "members": [
                    {
                        "node_id": "n1",
                        "hostname": "h1",
                        "address": "10.0.0.2",
                        "state": "active",
                        "leader": True,
                        "voter": True,
                        "lease_age_s": 0.4,
                    }
                ],
                "health": {"status": "healthy"},
            }
        if path == "/health":
            return {"status": "ok"}
        if path == "/host/status":
            return {
                "cpu_percent": 25.0,
                "memory": {"used_mib": 1024, "total_mib": 4096},
                "uptime_s": 3600,
                "ssh": {"enabled": True, "mode": "timed", "remaining_s": 125.0},
                "console": {"locked": False},
                "network": {"interface": "eth0"},
                "mode": "system",
            }
        if path.startswith("/nodes/"):
            return {"voter": True, "state": "active"}
        if path.startswith("/vms"):
            return {"items": [{"id": "v1", "status": {"state": "running"}}]}
        return {}


def test_main_frame_fits_80x24_and_shows_the_host() -> None:
    now = [100.0]
    app = App(FakeClient(), Options(), clock=lambda: now[0])
    app.refresh()
    frame = app.frame(80, 24)
    assert len(frame) == 24 and all(len(line.text) <= 80 for line in frame)
    text = "\n".join(line.text for line in frame)
    for want in (
        "Role:            leader",
        "[#####...............] 25%",
        "1 running on this host",
        "https://10.0.0.2:8443/",
        "turns off in 02:05",
        "F2 Network",
        "F12 Shell",
    ):
        assert want in text, want
    app.key("F2")  # a change: the password first
    assert isinstance(app.stack[-1], LoginScreen)
    app.key("ESC")
    app.set_authenticated("admin")
    app.key("F3")
    assert app.stack[-1].title == "SSH (F3)"
    now[0] += 400  # idle past the unlocked period: asked again
    app.key("ESC")
    app.key("F3")
    assert isinstance(app.stack[-1], LoginScreen)


def test_a_failing_screen_does_not_take_the_console_down() -> None:
    from console.screens.base import Screen

    class Broken(Screen):
        title = "broken"

        def on_key(self, app: Any, key: str) -> None:
            raise KeyError("boom")

    app = App(FakeClient(), Options())
    app.refresh()
    app.push(Broken())
    app.key("x")
    assert len(app.stack) == 1 and "internal error (KeyError" in app.message[0]
    assert len(app.frame(80, 24)) == 24


def test_http_chunked_bodies_are_decoded() -> None:
    from console.client import _dechunk

    assert _dechunk(b"4\r\nWiki\r\n6\r\npedia \r\n0\r\n\r\n") == b"Wikipedia "


def test_evacuation_sets_maintenance_then_asks_to_migrate_each_vm() -> None:
    from console.screens.system import evacuate

    client = FakeClient()
    app = App(client, Options())
    app.refresh()
    client.calls.clear()
    evacuate(app)
    assert client.calls == [
        ("PATCH", "/nodes/n1"),
        ("GET", "/vms?node=n1&limit=1000"),
        ("POST", "/vms/v1/migrate"),
    ]


def test_f2_shows_the_vm_networks_uplink():
    from console.screens.network import uplink_lines

    vnet = {
        "uplink": "eth1",
        "encap_ip": "10.78.0.2",
        "central": False,
        "sb_remote": "tcp:10.78.0.3:6642",
        "daemons": {"ovs-vswitchd": 12, "ovn-controller": None},
    }
    text = "\n".join(ln.text for ln in uplink_lines(vnet))
    assert "eth1 in br-phy" in text and "10.78.0.2" in text and "tcp:10.78.0.3:6642" in text
    assert "not running: ovn-controller" in text
    assert "no data interface" in uplink_lines(None)[1].text
