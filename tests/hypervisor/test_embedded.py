"""Functional tests: the real embedded QEMU driver booting the test guest under TCG."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from hypervisor.cloudinit import read_seed
from hypervisor.domxml import domain_uuid
from hypervisor.errors import (
    ChecksumMismatch,
    HypervisorError,
    ImageNotFound,
    InvalidState,
    OperationFailed,
)
from hypervisor.spec import parse_spec
from testkit.guest import BLOCK_PREFIX, MARKER, POWEROFF_MARKER
from tests.hypervisor.embed import guest_spec, new_id, wait_serial


def leftovers(drv, vm_id):
    """What of a VM is still on the host: domain, files in its dir, its volumes."""
    out = []
    if any(d.vm_id == vm_id for d in drv.list_domains()):
        out.append("domain")
    vm_dir = Path(drv.paths(vm_id).dir)
    if vm_dir.exists():
        out += [f"file {p.name}" for p in vm_dir.iterdir()] or ["dir"]
    for pool in ("local", "shared"):
        out += [f"volume {v.name}" for v in drv.list_volumes(pool) if v.name.startswith(vm_id)]
    return out


def block_sets(drv, vm_id):
    """The guest's successive block-device listings, from its serial log."""
    log = drv.read_serial_log(vm_id, 0, 1 << 20)["data"]
    return [set(line.split()[1:]) for line in log.splitlines() if line.startswith(BLOCK_PREFIX)]


def test_create_run_marker_graceful_shutdown_stopped(drv):
    vm = new_id()
    seen = []
    unsub = drv.subscribe(lambda e: e.vm_id == vm and seen.append((time.monotonic(), e)))
    spec = parse_spec(
        vm,
        guest_spec(
            name="lifecycle",
            disks=[{"id": "d0", "size_gib": 0.05}],
            cloud_init={"hostname": "life", "ssh_keys": ["ssh-ed25519 AAAA t@t"]},
        ),
    )
    try:
        assert drv.create(spec, epoch=1).state == "stopped"
        t0 = time.monotonic()
        assert drv.start(vm).state == "running"
        wait_serial(drv, vm, MARKER)
        boot_s = time.monotonic() - t0
        wait_serial(drv, vm, f"{BLOCK_PREFIX} vda")
        paths = drv.console_paths(vm)
        # The cloud-init seed attached to the VM is the NoCloud ISO we built.
        seed = read_seed(Path(drv.paths(vm).cidata).read_bytes())
        assert seed["volume_id"] == "cidata" and 'hostname: "life"' in seed["files"]["user-data"]
        # The VNC unix socket answers with the RFB greeting.
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(paths["vnc_socket"])
        assert s.recv(12) == b"RFB 003.008\n"
        s.close()
        assert Path(paths["agent_socket"]).is_socket()
        # Graceful: ACPI power button, the guest powers itself off.
        t1 = time.monotonic()
        assert drv.shutdown(vm, timeout=30) == "shutdown"
        info = drv.domain_info(vm)
        assert (info.state, info.reason) == ("stopped", "shutdown")
        assert POWEROFF_MARKER in drv.read_serial_log(vm)["data"]
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(e.event == "stopped" for _, e in seen):
            time.sleep(0.02)
        stopped = [(t, e) for t, e in seen if e.event == "stopped"]
        assert stopped and stopped[0][1].detail == "shutdown"
        assert stopped[0][0] - t1 < 30
        print(f"boot to marker {boot_s:.1f}s")
    finally:
        unsub()
        drv.delete(vm, remove_disks=True)
    assert leftovers(drv, vm) == []


def test_snapshot_revert_and_delete(drv):
    vm = new_id()
    drv.create(parse_spec(vm, guest_spec(disks=[{"id": "d0", "size_gib": 0.05}])))
    try:
        drv.start(vm)
        wait_serial(drv, vm, MARKER)
        # A running domain with qcow2 disks (and a read-only raw CD-ROM) gets an
        # internal snapshot with its memory under libvirt 9.0 / QEMU 7.2.
        snap = drv.snapshot_create(vm, "booted", "after the marker")
        assert snap["state"] == "running" and snap["current"]
        drv.stop(vm)
        assert drv.domain_info(vm).state == "stopped"
        info = drv.snapshot_revert(vm, "booted")
        assert info.state == "running"
        # The reverted guest is the one that had booted: it still powers off on ACPI.
        assert drv.shutdown(vm, timeout=30) == "shutdown"
        drv.snapshot_create(vm, "offline")
        assert [s["name"] for s in drv.snapshot_list(vm)] == ["booted", "offline"]
        drv.snapshot_delete(vm, "booted")
        assert [s["name"] for s in drv.snapshot_list(vm)] == ["offline"]
    finally:
        drv.delete(vm, remove_disks=True)
    assert leftovers(drv, vm) == []


def test_hot_plugged_disk_is_seen_by_the_guest_and_unplugged(drv):
    vm = new_id()
    drv.create(parse_spec(vm, guest_spec(disks=[{"id": "d0", "size_gib": 0.05}])))
    try:
        drv.start(vm)
        wait_serial(drv, vm, f"{BLOCK_PREFIX} vda")
        extra = parse_spec(vm, {"memory_mib": 64, "disks": [{"id": "data", "size_gib": 0.02}]})
        res = drv.attach_disk(vm, extra.disks[0])
        assert res["target"] == "vdb"
        wait_serial(drv, vm, f"{BLOCK_PREFIX} vda vdb", timeout=30)
        drv.detach_disk(vm, "data", remove_volume=True)
        deadline = time.monotonic() + 10
        while block_sets(drv, vm)[-1] != {"vda"} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert block_sets(drv, vm)[-2:] == [{"vda", "vdb"}, {"vda"}]
        assert f"{vm}-data.qcow2" not in [v.name for v in drv.list_volumes("local")]
    finally:
        drv.delete(vm, remove_disks=True)
    assert leftovers(drv, vm) == []


def test_pause_resume_reboot_and_offline_resize(drv):
    vm = new_id()
    drv.create(parse_spec(vm, guest_spec()))
    try:
        drv.start(vm)
        wait_serial(drv, vm, MARKER)
        drv.pause(vm)
        assert drv.domain_info(vm).state == "paused"
        drv.resume(vm)
        assert drv.domain_info(vm).state == "running"
        with pytest.raises(InvalidState):
            drv.resize(vm, 2, 256)
        drv.stop(vm)
        info = drv.resize(vm, 2, 256)
        assert (info.vcpus, info.memory_mib) == (2, 256)
        drv.start(vm)
        log = wait_serial(drv, vm, MARKER)
        assert log.count(MARKER) == 1  # the log is appended to across boots only once here
    finally:
        drv.delete(vm, remove_disks=True)
    assert leftovers(drv, vm) == []


def test_libvirt_failure_at_define_is_typed_and_leaks_nothing(drv):
    vm = new_id()
    # A stranger's domain holding the UUID our VM would get: libvirt refuses the define.
    other = f"stranger-{vm}"
    drv.conn.define(
        f"<domain type='qemu'><name>{other}</name><uuid>{domain_uuid(vm)}</uuid>"
        "<memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>"
    )
    try:
        spec = parse_spec(
            vm, guest_spec(disks=[{"id": "d0", "size_gib": 0.05}], cloud_init={"hostname": "x"})
        )
        with pytest.raises(HypervisorError) as e:
            drv.create(spec)
        assert "libvirt" in e.value.details and other in e.value.message
    finally:
        drv.conn.domain(other).undefine()
    assert leftovers(drv, vm) == []


def test_missing_image_leaks_the_disks_made_before_it(drv):
    vm = new_id()
    spec = parse_spec(
        vm,
        guest_spec(
            disks=[{"id": "d0", "size_gib": 0.05}, {"id": "d1", "image": "/nonexistent.qcow2"}]
        ),
    )
    with pytest.raises(ImageNotFound):
        drv.create(spec)
    assert leftovers(drv, vm) == []


def test_libvirt_failure_at_start_is_typed_and_leaves_no_process_or_socket(drv):
    vm = new_id()
    spec = parse_spec(vm, guest_spec(nics=[{"bridge": "qxnosuchbr0", "mac": "52:54:00:aa:bb:cc"}]))
    drv.create(spec)
    try:
        with pytest.raises(OperationFailed) as e:
            drv.start(vm)
        assert "qxnosuchbr0" in e.value.details["libvirt"]
        assert drv.domain_info(vm).state == "stopped"
        vm_dir = Path(drv.paths(vm).dir)
        assert not any(p.is_socket() for p in vm_dir.iterdir())
    finally:
        drv.delete(vm, remove_disks=True)
    assert leftovers(drv, vm) == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def test_volumes_and_image_import_from_file_and_loopback_url(drv, tmp_path):
    name = new_id("img")
    src = tmp_path / "disk.raw"
    src.write_bytes(os.urandom(3 << 20))
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    progress = []
    img = drv.import_image("shared", f"{name}.raw", str(src), want, lambda d, t: progress.append(d))
    assert img["sha256"] == want and img["size_bytes"] == 3 << 20 and img["kind"] == "disk"
    assert progress[-1] == 3 << 20 and len(progress) >= 3
    assert Path(img["path"]).read_bytes() == src.read_bytes()
    # From a URL (only loopback can be tested here), with a wrong checksum: nothing stays.
    handler = lambda *a, **kw: _Quiet(*a, directory=str(tmp_path), **kw)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/disk.raw"
        with pytest.raises(ChecksumMismatch):
            drv.import_image("shared", f"{name}-bad.raw", url, "0" * 64)
        assert f"{name}-bad.raw" not in [v.name for v in drv.list_volumes("shared")]
        got = drv.import_image("shared", f"{name}-url.raw", url)
        assert got["sha256"] == want
    finally:
        srv.shutdown()
    # A VM disk from an image: a qcow2 overlay (backing file), grown to the size asked.
    vol = drv.create_volume("local", f"{name}-vm.qcow2", 8 << 20, backing=img["path"])
    assert vol.backing == img["path"] and vol.capacity == 8 << 20 and vol.format == "qcow2"
    vol = drv.resize_volume("local", f"{name}-vm.qcow2", 16 << 20)
    assert vol.capacity == 16 << 20
    clone = drv.clone_volume("local", f"{name}-vm.qcow2", f"{name}-clone.qcow2")
    assert clone.backing == vol.path and clone.capacity == 16 << 20
    for pool, n in [
        ("local", f"{name}-clone.qcow2"),
        ("local", f"{name}-vm.qcow2"),
        ("shared", f"{name}-url.raw"),
        ("shared", f"{name}.raw"),
    ]:
        drv.delete_volume(pool, n)
    for pool in ("local", "shared"):
        assert not [v for v in drv.list_volumes(pool) if v.name.startswith(name)]
