"""The initrd: busybox, the few kernel modules that reach the root, and
``distro/initrd/init``. Modules are resolved at build time (``modprobe
--show-depends`` against the staged root) and loaded in that order by the init."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tempfile
from pathlib import Path

from distro.paths import DISTRO
from distro.run import BuildError

# Disks (virtio, SCSI, NVMe/AHCI where the kernel has them), the root's file
# systems, and the watchdog: the kernel's own is armed later by the peer.
MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "sd_mod",
    "nvme",
    "ahci",
    "usb_storage",
    "uas",
    "xhci_pci",
    "squashfs",
    "overlay",
)


def kernel_version(root: Path) -> str:
    versions = sorted(p.name for p in (root / "usr/lib/modules").iterdir())
    if len(versions) != 1:
        raise BuildError(f"expected one kernel in the root, found {versions}")
    return versions[0]


def module_files(root: Path, kver: str) -> list[str]:
    """The .ko files to insmod, dependencies first, as paths inside the root."""
    order: list[str] = []
    for mod in MODULES:
        proc = subprocess.run(
            ["modprobe", "--show-depends", "-d", str(root), "-S", kver, mod],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            continue  # not in this kernel (the cloud kernel has no AHCI, NVMe is built in...)
        for line in proc.stdout.splitlines():
            parts = line.split()
            if parts[:1] == ["insmod"]:
                path = parts[1].removeprefix(str(root))
                if path not in order:
                    order.append(path)
    return order


def build(root: Path, out: Path) -> list[str]:
    """Write a gzip'd newc cpio initrd for the staged ``root``; returns the modules."""
    kver = kernel_version(root)
    mods = module_files(root, kver)
    with tempfile.TemporaryDirectory(prefix="qx-initrd-") as tmp:
        t = Path(tmp)
        for d in ("bin", "dev", "proc", "sys", "run", "newroot", "etc"):
            (t / d).mkdir()
        shutil.copy(root / "bin/busybox", t / "bin/busybox")
        shutil.copy(DISTRO / "initrd/init", t / "init")
        (t / "init").chmod(0o755)
        for m in mods:
            dest = t / m.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / m.lstrip("/"), dest)
        (t / "etc/modules.order").write_text("".join(m + "\n" for m in mods))
        listing = subprocess.run(
            ["find", ".", "-mindepth", "1"], cwd=t, capture_output=True, check=True
        ).stdout
        cpio = subprocess.run(
            ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
            cwd=t,
            input=listing,
            capture_output=True,
            check=True,
        ).stdout
    out.write_bytes(gzip.compress(cpio, compresslevel=6))
    return mods
