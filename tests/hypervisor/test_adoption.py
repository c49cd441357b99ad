"""A peer process killed with -9 leaves its guests running; the next one adopts them.

Each process gets one embedded root, so both "peers" run as child processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, signal, sys, time
from hypervisor.libvirt_driver import LibvirtDriver
from hypervisor.spec import parse_spec
from testkit.guest import MARKER, ensure_test_guest

root, vm, mode = sys.argv[1], sys.argv[2], sys.argv[3]
drv = LibvirtDriver(f"qemu:///embed?root={root}", pools={"local": root + "/pool"})
pidfile = f"{root}/run/qemu/qx-{vm}.pid"
if mode == "start":
    g = ensure_test_guest()
    disks = [{"id": "d0", "size_gib": 0.05}]
    spec = {"memory_mib": g.memory_mib, **g.spec_fields(), "disks": disks}
    drv.create(parse_spec(vm, spec), epoch=1)
    drv.start(vm)
    deadline = time.time() + 60
    while MARKER not in drv.read_serial_log(vm)["data"] and time.time() < deadline:
        time.sleep(0.1)
    print(json.dumps({"qemu_pid": open(pidfile).read().strip()}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the peer dies without closing anything
else:
    info = drv.domain_info(vm)
    out = {"state": info.state, "epoch": info.epoch, "qemu_pid": open(pidfile).read().strip()}
    drv.delete(vm, remove_disks=True)
    out["left"] = sorted(os.listdir(root + "/pool"))
    drv.close()
    print(json.dumps(out), flush=True)
"""


def run(root, vm, mode):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run(
        [sys.executable, "-c", CHILD, root, vm, mode],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_guest_survives_a_killed_peer_and_is_adopted():
    root = tempfile.mkdtemp(prefix="qxa", dir="/tmp")
    try:
        first = run(root, "adopt1", "start")
        assert first.returncode == -9, first.stderr[-2000:]
        started = json.loads(first.stdout.strip().splitlines()[-1])
        os.kill(int(started["qemu_pid"]), 0)  # QEMU outlived its peer
        second = run(root, "adopt1", "adopt")
        assert second.returncode == 0, second.stderr[-2000:]
        adopted = json.loads(second.stdout.strip().splitlines()[-1])
        assert adopted["state"] == "running" and adopted["epoch"] == 1
        assert adopted["qemu_pid"] == started["qemu_pid"]
        assert adopted["left"] == []
    finally:
        # Whatever a failed run left: QEMU and the storage libvirtd, by their pid files.
        pidfiles = [*Path(root, "run", "qemu").glob("*.pid"), Path(root, "storaged/libvirtd.pid")]
        for pf in pidfiles:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pf.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
