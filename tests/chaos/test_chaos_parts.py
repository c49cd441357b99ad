"""The harness's pure parts and small real pieces: schedules, rules, the clock shim,
fault undo on errors, the disk filler, the report."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaos.checkers import PASS, Verdict
from chaos.checkers.availability import check_availability
from chaos.faults import KINDS
from chaos.faults.base import TABLE, TAG, Fault
from chaos.faults.disk import fill, is_mount, mount_data_tmpfs, unmount
from chaos.faults.net import nft_ruleset, partition_rules
from chaos.history import History
from chaos.nemesis import schedule
from chaos.observer import parse_guest
from chaos.report import render_html, summary_table
from chaos.runner import RunResult, figures


def test_a_seed_replays_the_same_schedule_and_covers_every_kind() -> None:
    hosts = ["h1", "h2", "h3", "h4", "h5"]
    a = schedule(42, list(KINDS), hosts, 30, every_kind_once=True)
    b = schedule(42, list(KINDS), hosts, 30, every_kind_once=True)
    assert [s.to_json() for s in a] == [s.to_json() for s in b]
    assert {s.kind for s in a} == set(KINDS)
    assert [s.to_json() for s in schedule(43, list(KINDS), hosts, 30)] != [s.to_json() for s in a]
    for s in a:
        if s.kind in ("kill9", "disk_full", "flap"):
            assert 1 <= len(s.hosts) <= 2  # a minority
        if s.kind == "partition":
            assert sorted(h for g in s.groups for h in g) == hosts
    starts = [(s.at, s.at + s.duration) for s in a]
    assert all(e1 <= s2 for (_, e1), (s2, _) in itertools.pairwise(starts))


def test_partition_rules_symmetric_and_one_way() -> None:
    addrs = {"h1": "10.0.0.2", "h2": "10.0.0.3", "h3": "10.0.0.4"}
    sym = partition_rules([["h1"], ["h2", "h3"]], addrs, oneway=False)
    assert sym["h1"] == (["10.0.0.3", "10.0.0.4"], ["10.0.0.3", "10.0.0.4"])
    assert sym["h2"] == (["10.0.0.2"], ["10.0.0.2"])
    one = partition_rules([["h1"], ["h2", "h3"]], addrs, oneway=True)
    assert one == {"h2": (["10.0.0.2"], []), "h3": (["10.0.0.2"], [])}  # h1 -> others dropped
    text = nft_ruleset(["10.0.0.3"], [])
    assert f"table inet {TABLE}" in text and f'comment "{TAG}"' in text and "daddr" not in text


def test_guest_name_parsing() -> None:
    cmd = b"/usr/bin/qemu-system-x86_64\0-name\0guest=qx-bcc65feb0302,debug-threads=on\0-S"
    assert parse_guest(cmd) == "bcc65feb0302"
    assert parse_guest(b"/usr/bin/qemu-system-x86_64\0-name\0guest=other") is None


def test_clock_shim_offsets_wall_time_only(tmp_path: Path) -> None:
    off = tmp_path / "offset"
    off.write_text("120\n")
    prog = tmp_path / "p.py"
    prog.write_text(
        "import time, sys\n"
        "t = float(sys.argv[1])\n"
        "print(round(time.time() - t), round(time.time_ns() / 1e9 - t))\n"
    )
    import time

    out = subprocess.run(
        [sys.executable, "-m", "chaos.clockshim", str(off), "--", str(prog), str(time.time())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [int(x) for x in out] == [120, 120]


class Recorder(Fault):
    kind = "test"

    def __init__(self) -> None:
        super().__init__(["h1"])
        self.log: list[str] = []

    def inject(self) -> None:
        self.log.append("inject")

    def heal(self) -> None:
        self.log.append("heal")


def test_a_fault_heals_when_the_run_crashes_inside_it() -> None:
    f = Recorder()
    with pytest.raises(RuntimeError), f:
        raise RuntimeError("the harness broke")
    assert f.log == ["inject", "heal"]
    with f:
        f.hold(0.05)
    assert f.log == ["inject", "heal", "inject", "heal"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_disk_fill_reaches_enospc_and_frees_on_removal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    mount_data_tmpfs(data, 4)
    try:
        (data / "journal").write_text("kept")
        n = fill(data / "fill")
        assert n > 3 * (1 << 20)
        with pytest.raises(OSError):
            (data / "more").write_bytes(b"x" * 65536)
        (data / "fill").unlink()
        (data / "more").write_bytes(b"x" * 65536)
        assert (data / "journal").read_text() == "kept"
    finally:
        unmount(data)
    assert not is_mount(data)


def test_report_draws_a_timeline_and_shows_each_verdict() -> None:
    h = History(t0=0.0)
    op = h.invoke("reg1", "h1", "read", "reg-0")
    h.complete(op, "ok", 3)
    h.sample("roles", hosts={"h1": {"role": "leader"}, "h2": None})
    h.sample("qemu", hosts={"h1": {"vm1": [1, "S"]}, "h2": {}}, doubles={})
    v = Verdict("linearizable", PASS, "1 register: linearizable", {"keys": []})
    av = check_availability(
        h.ops, [{"name": "quiet", "start": 0.0, "end": 1.0, "majority": ["h1"]}], bound_s=30
    )
    res = RunResult(
        config={"scenario": "kill9", "nodes": 2, "seed": 5, "duration": 10.0, "kinds": ["kill9"]},
        schedule=[],
        faults=[{"kind": "kill9", "hosts": ["h2"], "start": 0.0, "end": 1.0, "params": {}}],
        verdicts=[v.to_json(), av.to_json()],
        status=PASS,
        figures=figures([v], [], h),
        history=h.to_json(),
        ha_vms={"vm1": "ha-0"},
    )
    page = render_html(res)
    assert "<svg" in page and "<script" not in page and "ha-0" in page
    assert "1 register: linearizable" in page and "--seed 5" in page
    assert "Availability per phase" in page and "cannot draw" not in page
    head, rows = summary_table([res])
    assert rows[0][head.index("linearizable")] == PASS


# A process with a thread named like a QEMU vCPU ("CPU 0/TCG") that either burns
# CPU for a moment (a guest that ran) or only sleeps (an incoming migration).
FAKE_VCPU = """
import sys, threading, time
def vcpu():
    with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
        f.write("CPU 0/TCG")
    end = time.monotonic() + (0.2 if sys.argv[1] == "ran" else 0)
    while time.monotonic() < end:
        pass
    print("ready", flush=True)
    time.sleep(60)
threading.Thread(target=vcpu).start()
"""


@pytest.fixture
def fake_qemu() -> Iterator[Callable[[str], int]]:
    procs: list[subprocess.Popen[str]] = []

    def spawn(kind: str) -> int:
        p = subprocess.Popen(
            [sys.executable, "-c", FAKE_VCPU, kind], stdout=subprocess.PIPE, text=True
        )
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
        return p.pid

    yield spawn
    for p in procs:
        p.kill()
        p.wait()


def test_a_qemu_whose_vcpus_never_ran_executes_no_guest(fake_qemu) -> None:
    from chaos.observer import NOT_EXECUTING, guest_state

    assert guest_state(fake_qemu("ran")) not in NOT_EXECUTING
    assert guest_state(fake_qemu("idle")) == "-"


def test_a_vm_on_two_hosts_is_reported_only_if_both_processes_still_exist(fake_qemu) -> None:
    from chaos.observer import confirm_doubles

    a, b = fake_qemu("ran"), fake_qemu("ran")
    both = {"h1": {"vm1": [a, "S"]}, "h2": {"vm1": [b, "R"]}, "h3": {"vm2": [a, "S"]}}
    assert set(confirm_doubles(both)) == {"vm1"}
    gone = {"h1": {"vm1": [a, "S"]}, "h2": {"vm1": [2**22 + 12345, "R"]}}  # no such pid
    assert confirm_doubles(gone) == {}
    # A live migration's destination before it is resumed: not a second run.
    incoming = {"h1": {"vm1": [a, "S"]}, "h2": {"vm1": [fake_qemu("idle"), "S"]}}
    assert confirm_doubles(incoming) == {}
