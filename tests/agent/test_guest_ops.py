"""The agent's handlers and parsers, run here (the guest's are the same code;
tests/agent/test_guest_tcg.py runs them in a real guest on python3-minimal)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.guest import sysinfo
from agent.guest.ops import Agent, OpError
from agent.guest.port import find_port
from agent.protocol import FILE_CAP


def test_exec_output_exit_code_and_cap():
    a = Agent(hooks_dir="/nonexistent")
    res = a.op_exec({"argv": ["sh", "-c", "echo out; echo err >&2; exit 7"]})
    assert (res["exit_code"], res["stdout"], res["stderr"]) == (7, b"out\n", b"err\n")
    big = a.op_exec({"argv": ["sh", "-c", "head -c 100000 /dev/zero"], "output_cap": 1000})
    assert len(big["stdout"]) == 1000 and big["truncated"] and big["exit_code"] == 0


def test_exec_timeout_kills_the_process_group():
    res = Agent().op_exec({"argv": ["sh", "-c", "sleep 30 & sleep 30"], "timeout_s": 0.5})
    assert res["timed_out"] and res["duration_s"] < 10


def test_exec_refuses_bad_argv():
    with pytest.raises(OpError):
        Agent().op_exec({"argv": []})
    with pytest.raises(OpError, match="cannot run"):
        Agent().op_exec({"argv": ["/no/such/program"]})


def test_file_write_then_read_and_cap(tmp_path: Path):
    a = Agent()
    p = str(tmp_path / "f")
    assert a.op_file_write({"path": p, "data": b"hello", "mode": 0o600})["size"] == 5
    assert os.stat(p).st_mode & 0o777 == 0o600
    a.op_file_write({"path": p, "data": b" world", "append": True})
    assert a.op_file_read({"path": p})["data"] == b"hello world"
    assert a.op_file_read({"path": p, "offset": 6, "max_bytes": 3}) == {
        "data": b"wor",
        "size": 11,
        "offset": 6,
        "eof": False,
    }
    with pytest.raises(OpError):
        a.op_file_write({"path": p, "data": b"x" * (FILE_CAP + 1)})
    with pytest.raises(OpError, match="No such file"):
        a.op_file_read({"path": str(tmp_path / "missing")})


def test_hooks_run_in_order_and_reverse(tmp_path: Path):
    log = tmp_path / "log"
    for name in ("10-a", "20-b"):
        h = tmp_path / "hooks" / name
        h.parent.mkdir(exist_ok=True)
        h.write_text(f"#!/bin/sh\necho {name} $1 >> {log}\n")
        h.chmod(0o755)
    a = Agent(hooks_dir=str(tmp_path / "hooks"))
    assert [h["hook"] for h in a._hooks("freeze")] == ["10-a", "20-b"]
    assert [h["hook"] for h in a._hooks("thaw")] == ["20-b", "10-a"]
    assert log.read_text().split("\n")[:4] == [
        "10-a freeze",
        "20-b freeze",
        "20-b thaw",
        "10-a thaw",
    ]


def test_hello_negotiates_a_version():
    assert Agent().op_hello({"versions": [1, 2]})["protocol"] == 1
    with pytest.raises(OpError):
        Agent().op_hello({"versions": [7]})


def test_parsers():
    mem = sysinfo.parse_meminfo("MemTotal: 2048000 kB\nMemFree: 100 kB\nMemAvailable: 1024000 kB\n")
    assert mem == {"total_mib": 2000, "available_mib": 1000, "used_mib": 1000}
    assert (
        sysinfo.parse_os_release('ID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\nVERSION_ID="12"')[
            "name"
        ]
        == "Debian GNU/Linux 12"
    )
    mounts = "/dev/vda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n/dev/vdb /srv\\040x xfs rw 0 0\n"
    assert sysinfo.parse_mounts(mounts) == [
        ("/dev/vda1", "/", "ext4"),
        ("/dev/vdb", "/srv x", "xfs"),
    ]
    v6 = (
        "fe800000000000000000000000000001 02 40 20 80 eth0\n"
        "20010db8000000000000000000000005 02 40 00 80 eth0\n"
        "00000000000000000000000000000001 01 80 10 80 lo\n"
    )
    assert sysinfo.parse_if_inet6(v6) == [("eth0", "2001:db8::5")]


def test_find_port_without_udev(tmp_path: Path):
    sysd = tmp_path / "sys/class/virtio-ports"
    for port, name in (("vport0p1", "other"), ("vport0p2", "org.quantix.agent.0")):
        (sysd / port).mkdir(parents=True)
        (sysd / port / "name").write_text(name + "\n")
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "vport0p2").touch()
    got = find_port("org.quantix.agent.0", str(dev), str(tmp_path / "sys"))
    assert got == str(dev / "vport0p2")
    (dev / "virtio-ports").mkdir()
    (dev / "virtio-ports/org.quantix.agent.0").touch()
    assert find_port("org.quantix.agent.0", str(dev), str(tmp_path / "sys")) == str(
        dev / "virtio-ports/org.quantix.agent.0"
    )
    assert find_port("nope", str(dev), str(tmp_path / "sys")) is None
