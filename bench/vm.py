"""``python -m bench vm [--json] [--vms N] [--samples N] [--window S]``

VMs through the real stack of one peer: a ``LocalStore``, the reconciler and
the embedded QEMU driver (this process), booting the test guest under TCG.

- ``create_to_running_ms`` p50/p99: from the commit of a ``vms`` record placed
  here to ``vm_status`` saying running (platform time: define, disks, start
  QEMU; not the guest's boot);
- ``boot_to_marker_s``: from running to the guest's ready marker on its serial
  console (the guest's boot under TCG);
- ``peer_cpu_pct_<N>vms`` / ``peer_rss_mb_<N>vms``: this process's CPU (percent
  of one core) and RSS over ``--window`` seconds with N guests running (N: those
  that reached running, which the key names; --vms asks for 50) and the
  reconciler following them (store watches, libvirt events, a resync every
  30 s); ``storaged_rss_mb``: the private storage libvirtd beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench.verdict import Report
from testkit.wait import WaitTimeout, async_wait_for


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def _is_running(status: Any, vm: str) -> bool:
    return bool(status(vm) == "running")


async def _soft_wait(pred: Any, timeout: float, what: str, step: float) -> bool:
    """Whether ``pred`` held within ``timeout``: for waits whose miss is counted,
    not fatal (a guest slow to boot on a loaded host still runs)."""
    try:
        await async_wait_for(pred, timeout, what, step)
    except WaitTimeout:
        return False
    return True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from hypervisor.libvirt_driver import LibvirtDriver
    from hypervisor.telemetry import process_usage
    from peer.reconciler import Reconciler
    from raft.store import LocalStore
    from testkit.guest import MARKER, ensure_test_guest

    guest = ensure_test_guest()
    root = Path(tempfile.mkdtemp(prefix="qxb", dir="/tmp"))
    t_open = time.monotonic()
    drv = await asyncio.to_thread(
        LibvirtDriver, f"qemu:///embed?root={root}", pools={"local": str(root / "pool")}
    )
    open_s = time.monotonic() - t_open
    store = LocalStore("bench")
    rec = Reconciler(store, drv, "bench", resync_interval=30.0)
    await rec.start()
    ids: list[str] = []

    def status(vm: str) -> str | None:
        st = store.get("vm_status", vm)
        return st.value.get("state") if st else None

    def record(i: int) -> dict[str, Any]:
        return {
            "name": f"bench-{i}",
            "vcpus": 1,
            "memory_mib": guest.memory_mib,
            **guest.spec_fields(),
            "desired": "running",
            "placement": "bench",
            "placement_epoch": 1,
        }

    out: dict[str, Any] = {"vms_requested": args.vms, "accel": drv.accel.name, "open_s": open_s}
    try:
        # 1. create -> running, one at a time, and the boot to the marker.
        create_ms: list[float] = []
        boot_s: list[float] = []
        _progress(f"driver open in {open_s:.1f}s ({drv.accel.name}); timing {args.samples} VMs")
        for i in range(args.samples):
            vm = f"b{i:03d}"
            ids.append(vm)
            t0 = time.monotonic()
            await store.put("vms", vm, record(i))
            await async_wait_for(partial(_is_running, status, vm), 60, f"{vm} running", 0.005)
            t1 = time.monotonic()
            create_ms.append((t1 - t0) * 1000)
            ok = await _soft_wait(
                lambda vm=vm: MARKER in drv.read_serial_log(vm)["data"], 120, f"{vm} booted", 0.05
            )
            if ok:
                boot_s.append(time.monotonic() - t1)
        out["create_to_running_ms"] = {
            "p50": round(_pct(create_ms, 50), 1),
            "p99": round(_pct(create_ms, 99), 1),
            "n": len(create_ms),
        }
        out["boot_to_marker_s"] = {
            "p50": round(_pct(boot_s, 50), 2),
            "max": round(max(boot_s), 2) if boot_s else None,
            "n": len(boot_s),
        }
        # 2. up to N guests running; boot them in small waves (2 cores, TCG).
        i = args.samples
        while i < args.vms:
            wave = []
            for _ in range(min(args.wave, args.vms - i)):
                vm = f"b{i:03d}"
                ids.append(vm)
                wave.append(vm)
                await store.put("vms", vm, record(i))
                i += 1
            await _soft_wait(
                lambda wave=wave: all(status(v) == "running" for v in wave), 120, "a wave", 0.005
            )
            # Boot them before the next wave (2 cores under TCG), but do not wait
            # forever for a guest slowed by a loaded host: it runs all the same.
            await _soft_wait(
                lambda wave=wave: all(MARKER in drv.read_serial_log(v)["data"] for v in wave),
                args.boot_wait,
                "a wave booted",
                0.2,
            )
            _progress(f"{i} guests started")
        running = [v for v in ids if status(v) == "running"]
        out["vms_running"] = len(running)
        out["vms_booted"] = sum(MARKER in drv.read_serial_log(v)["data"] for v in running)
        _progress(f"{len(running)} running, measuring for {args.window}s")
        await rec.wait_idle(60)
        # 3. the peer's own overhead, steady state.
        u0, t0 = process_usage(), time.monotonic()
        await asyncio.sleep(args.window)
        u1, t1 = process_usage(), time.monotonic()
        # Named by the guests that ran, not by those asked for.
        n = len(running)
        out[f"peer_cpu_pct_{n}vms"] = round(100 * (u1["cpu_s"] - u0["cpu_s"]) / (t1 - t0), 2)
        out[f"peer_rss_mb_{n}vms"] = round(u1["rss_mb"], 1)
        out["window_s"] = args.window
        out["reconcile_passes"] = rec.passes
        pid = drv._storaged.pid() if drv._storaged else None
        if pid:
            out["storaged_rss_mb"] = round(process_usage(pid)["rss_mb"], 1)
        qemu = []
        for pf in (root / "run" / "qemu").glob("*.pid"):
            try:
                qemu.append(process_usage(int(pf.read_text().strip())))
            except Exception:
                continue
        if qemu:
            out["qemu_rss_mb_avg"] = round(statistics.mean(q["rss_mb"] for q in qemu), 1)
    finally:
        _progress("cleaning up")
        await rec.stop()
        for vm in ids:
            try:
                await asyncio.to_thread(drv.delete, vm, True)
            except Exception:
                continue
        await asyncio.to_thread(drv.close)
        shutil.rmtree(root, ignore_errors=True)
    return out


def _progress(msg: str) -> None:
    print(f"bench vm: {msg}", file=sys.stderr, flush=True)


def _term(_sig: int, _frame: object) -> None:
    # A timeout's SIGTERM: unwind through the cleanup (no guest left running).
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench vm")
    p.add_argument("--json", action="store_true")
    p.add_argument("--vms", type=int, default=50, help="guests running for the overhead figures")
    p.add_argument("--samples", type=int, default=10, help="VMs timed one by one")
    p.add_argument("--wave", type=int, default=6, help="guests booted at once")
    p.add_argument("--window", type=float, default=60.0, help="seconds of steady state measured")
    p.add_argument("--boot-wait", type=float, default=90.0, help="max seconds to wait per wave")
    args = p.parse_args(argv)
    args.vms = max(args.vms, args.samples)
    signal.signal(signal.SIGTERM, _term)
    out = asyncio.run(run(args))
    r = Report("bench vm")
    for k, v in out.items():
        if isinstance(v, dict):  # p50/p99/n of one figure
            for sub, x in v.items():
                r.figure(f"{k}_{sub}", x)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            r.figure(k, v)
        else:
            r.note(k, v)
    r.check(
        "every guest asked for ran", out.get("vms_running") == args.vms, f"{out.get('vms_running')}"
    )
    r.check(
        "every running guest booted",
        out.get("vms_booted") == out.get("vms_running"),
        f"{out.get('vms_booted')} of {out.get('vms_running')}",
    )
    return r.emit(args.json)
