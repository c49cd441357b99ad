"""The lab: namespaces that reach each other, kill/start/stop, and nothing left behind."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.lab import Lab, LabStateError
from chaos.lab import addressing as an
from chaos.lab.cli import main as lab_cli
from chaos.lab.system import link_names, netns_list, netns_pids, pid_alive
from peer.config import parse_config
from tests.chaos.conftest import STANDIN, lab_name
from tests.util import wait_for

pytestmark = [pytest.mark.xdist_group("lab"), pytest.mark.lab]


def reachable(address: str, port: int = 8080) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def reachable_from(lab: Lab, host: str, address: str) -> bool:
    code = f"import socket; socket.create_connection(('{address}', 8080), timeout=1)"
    return lab.exec(host, [sys.executable, "-c", code], capture_output=True).returncode == 0


def leftovers(lab: Lab) -> list[str]:
    ns = [n for n in netns_list() if n.startswith(f"qx-{lab.name}-")]
    links = [x for x in link_names() if lab.name in x]
    return ns + links + ([str(lab.dir)] if lab.dir.exists() else [])


def test_hosts_reach_each_other_and_this_machine_reaches_them(lab: Lab) -> None:
    hosts = lab.up(3)
    assert [h.name for h in hosts] == ["h1", "h2", "h3"]
    assert len({h.address for h in hosts}) == 3
    wait_for(lambda: all(reachable(h.address) for h in hosts), 15)
    for a in hosts:
        for b in hosts:
            if a is not b:
                assert reachable_from(lab, a.name, b.address), f"{a.name} -> {b.name}"
    # Each namespace sees only its own loopback and eth0.
    out = lab.exec("h1", ["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines()) == [
        "eth0",
        "lo",
    ]


def test_kill_start_stop(lab: Lab) -> None:
    lab.up(2)
    h2 = lab.host("h2")
    wait_for(lambda: reachable(h2.address), 15)
    # A second process in the namespace dies with the host.
    extra = lab.popen("h2", ["sleep", "600"])
    killed = lab.kill("h2")
    assert h2.pid in killed and extra.pid in killed
    extra.wait(5)
    assert netns_pids(h2.netns) == [] and not reachable(h2.address)
    h2 = lab.start("h2")
    wait_for(lambda: reachable(h2.address), 15)
    with pytest.raises(Exception, match="already running"):
        lab.start("h2")
    assert lab.stop("h2") and not pid_alive(h2.pid or 0)
    assert lab.status()[1]["running"] is False and lab.status()[0]["running"] is True


def test_node_yaml_factory_other_cluster_and_wrong_secret(lab: Lab) -> None:
    lab.up(1, start=False)
    factory = lab.add_host(factory=True, start=False)
    blue = lab.add_host(cluster="blue", start=False)
    wrong = lab.add_host(secret="not-the-lab-secret", start=False)
    cfg = parse_config(lab.host("h1").config.read_text())
    assert cfg.cluster_name == lab.name and cfg.cluster_secret == lab.cluster_secret()
    assert cfg.mgmt_address == lab.host("h1").address and cfg.mgmt_interface == "eth0"
    assert cfg.libvirt_uri == f"qemu:///embed?root={lab.host('h1').dir}/libvirt"
    assert cfg.data_dir == lab.host("h1").data_dir and cfg.hostname == "h1"
    assert parse_config(factory.config.read_text()).is_factory
    blue_cfg = parse_config(blue.config.read_text())
    assert blue_cfg.cluster_name == "blue" and blue_cfg.cluster_secret == lab.cluster_secret("blue")
    assert blue_cfg.cluster_secret != cfg.cluster_secret
    assert parse_config(wrong.config.read_text()).cluster_secret == "not-the-lab-secret"
    for path in [*lab.dir.glob("h*/node.yaml"), *lab.dir.glob("secrets/*"), lab.dir / "lab.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_down_leaves_nothing_and_is_idempotent(lab: Lab) -> None:
    hosts = lab.up(3)
    extra = lab.popen("h1", ["sleep", "600"])
    pids = [h.pid for h in hosts] + [extra.pid]
    with pytest.raises(LabStateError):
        lab.up(1)
    lab.down()
    extra.wait(5)
    assert leftovers(lab) == []
    assert not any(pid_alive(p) for p in pids if p)
    lab.down()  # again: nothing to do, no error


def test_down_after_a_crash_finds_resources_by_name(tmp_path: Path) -> None:
    lab = Lab(lab_name(), tmp_path, peer_cmd=STANDIN)
    try:
        lab.up(2)
        # As if `up` had died before its state file was complete (or it was deleted).
        (lab.dir / "lab.json").unlink()
        Lab(lab.name, tmp_path).down()
        assert leftovers(lab) == []
    finally:
        lab.down()


def test_cli_up_status_exec_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = lab_name()
    base = ["--name", name, "--root", str(tmp_path)]
    peer_cmd = " ".join(STANDIN)
    try:
        assert lab_cli([*base, "up", "--nodes", "2", "--peer-cmd", peer_cmd]) == 0
        out = capsys.readouterr().out
        assert "https://10.77." in out and "h2" in out
        assert lab_cli([*base, "status", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["host"] for r in rows] == ["h1", "h2"] and all(r["running"] for r in rows)
        assert lab_cli([*base, "exec", "h2", "--", "true"]) == 0
        assert lab_cli([*base, "exec", "h2", "--", "false"]) == 1
        assert lab_cli([*base, "kill", "h1"]) == 0
        assert lab_cli([*base, "start", "nope"]) == 1
    finally:
        assert lab_cli([*base, "down"]) == 0
    assert leftovers(Lab(name, tmp_path)) == []


def test_module_entry_point_help() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "chaos.lab", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "kill" in res.stdout


def test_names_fit_linux_limits_and_subnets_do_not_collide() -> None:
    assert len(an.veth_name("abcdefgh", 9999)) <= 15
    assert len(an.bridge_name("abcdefgh")) <= 15
    with pytest.raises(Exception, match="lowercase"):
        an.check_name("too-long-name")
    first = an.pick_block([])
    assert str(first) == "10.77.0.0/22" and an.bridge_address(first) == "10.77.0.1"
    assert an.host_address(first, 1) == "10.77.0.2"
    assert an.host_address(first, 32) == "10.77.0.33"
    assert an.host_address(first, 300) == "10.77.1.45"
    assert str(an.pick_block(["10.77.0.1", "10.77.4.7"])) == "10.77.8.0/22"


@pytest.mark.slow
def test_thirty_two_hosts(lab: Lab) -> None:
    hosts = lab.up(32)
    wait_for(lambda: all(reachable(h.address) for h in hosts), 60)
    assert reachable_from(lab, "h32", hosts[0].address)
    lab.down()
    assert leftovers(lab) == []


def test_running_as_root() -> None:
    assert os.geteuid() == 0, "the lab needs root (network namespaces)"


def test_foreground_tears_down_on_sigterm(tmp_path: Path) -> None:
    name = lab_name()
    lab = Lab(name, tmp_path / "labs")
    out = tmp_path / "out.txt"
    argv = [sys.executable, "-m", "chaos.lab", "--name", name, "--root", str(lab.root), "up",
            "--nodes", "2", "--peer-cmd", " ".join(STANDIN), "--foreground"]  # fmt: skip
    with open(out, "w") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Ctrl-C" in out.read_text(), 15, "the banner", explain=out.read_text)
        assert all(h.url in out.read_text() for h in lab.hosts())
        wait_for(lambda: all(reachable(h.address) for h in lab.hosts()), 15)
        proc.terminate()
        assert proc.wait(30) == 0
        assert leftovers(lab) == []
    finally:
        proc.kill()
        lab.down()
