"""The test guest's initramfs is a valid newc archive with what /init needs."""

import gzip
import shutil
import subprocess

from testkit.guest import DATAFS_MODULES, MODULES, CpioWriter, ensure_test_guest


def test_cpio_writer_output_lists_with_cpio():
    assert shutil.which("cpio"), "cpio is missing: scripts/setup.sh installs it"
    w = CpioWriter()
    w.add_dir("bin")
    w.add_file("bin/hello", b"hi\n", 0o755)
    w.add_symlink("bin/sh", "hello")
    out = subprocess.run(["cpio", "-t"], input=w.finish(), capture_output=True, check=True)
    assert out.stdout.decode().split() == ["bin", "bin/hello", "bin/sh"]


def test_ensure_test_guest_builds_once_and_holds_init_busybox_and_modules(tmp_path):
    g = ensure_test_guest(tmp_path)
    assert g.kernel.stat().st_size > 1_000_000
    listing = (
        subprocess.run(
            ["cpio", "-t"], input=gzip.decompress(g.initrd.read_bytes()), capture_output=True
        )
        .stdout.decode()
        .split()
    )
    assert {"init", "bin/busybox", "etc/acpi/PWRF/00000080"} <= set(listing)
    # The agent's guest also carries the modules of its optional /data file system.
    assert len([n for n in listing if n.endswith(".ko")]) == len(MODULES) + len(DATAFS_MODULES)
    assert {"usr/bin/python3", "usr/lib/quantix-agent/agent/guest/main.py"} <= set(listing)
    mtime = g.initrd.stat().st_mtime_ns
    assert ensure_test_guest(tmp_path).initrd.stat().st_mtime_ns == mtime
