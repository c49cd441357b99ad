"""The installer: the running Quantix-OS writes itself to another disk.

Runs on a Quantix-OS host (the installer medium is the same image, booted from a
USB stick or a virtual disk). Unattended when the medium's ESP carries an answer
file (``/efi/quantix/install.yaml``) or the kernel command line names a disk
(``quantix.install=/dev/sdb``); by hand: ``quantix os install --disk /dev/sdb``.

The target gets the layout of ``layout.plan`` with its own disk GUID: a fresh
ESP (systemd-boot, the running slot's kernel and initrd as slot A, a known-good
entry naming that disk), the running slot's squashfs in slot A, an empty slot B,
and a new data partition holding ``node.yaml`` (a cluster name and secret when
the answers give them: the host then forms or joins that cluster on first boot).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from peer.osimage import bootentry
from peer.osimage.layout import Layout, plan, sfdisk_script

ANSWERS = Path("/efi/quantix/install.yaml")
RUN = Path("/run/quantix")
ESP = Path("/efi")
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class InstallError(RuntimeError):
    """The install cannot go on; the message says why (nothing is half-written
    that matters: the target disk is simply not bootable yet)."""


@dataclass(frozen=True)
class Answers:
    disk: str
    hostname: str | None = None
    cluster_name: str | None = None
    cluster_secret: str | None = None
    reboot: bool = True


def parse_answers(text: str) -> Answers:
    """An answer file: ``disk`` (required), ``hostname``, ``cluster: {name, secret}``,
    ``reboot`` (default true)."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise InstallError(f"the answer file is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise InstallError("the answer file must be a mapping")
    unknown = set(raw) - {"disk", "hostname", "cluster", "reboot"}
    if unknown:
        raise InstallError(f"unknown answers: {', '.join(sorted(unknown))}")
    disk = raw.get("disk")
    if not isinstance(disk, str) or not disk.startswith("/dev/"):
        raise InstallError("answer 'disk' must name a disk under /dev (e.g. /dev/sdb)")
    cluster = raw.get("cluster") or {}
    if not isinstance(cluster, dict):
        raise InstallError("answer 'cluster' must be a mapping with 'name' and 'secret'")
    name, secret = cluster.get("name"), cluster.get("secret")
    if (name is None) != (secret is None):
        raise InstallError("answer 'cluster' needs both 'name' and 'secret'")
    if name is not None and not _NAME_RE.match(str(name)):
        raise InstallError(f"cluster name {name!r}: lowercase letters, digits and '-'")
    if secret is not None and len(str(secret)) < 12:
        raise InstallError("the cluster secret needs at least 12 characters")
    hostname = raw.get("hostname")
    if hostname is not None and not _NAME_RE.match(str(hostname)):
        raise InstallError(f"hostname {hostname!r}: lowercase letters, digits and '-'")
    return Answers(
        disk=disk,
        hostname=None if hostname is None else str(hostname),
        cluster_name=None if name is None else str(name),
        cluster_secret=None if secret is None else str(secret),
        reboot=bool(raw.get("reboot", True)),
    )


def from_cmdline(cmdline: str) -> Answers | None:
    """``quantix.install=/dev/X`` (and optional ``quantix.hostname=``): a disk only."""
    args = dict(a.split("=", 1) for a in cmdline.split() if "=" in a)
    disk = args.get("quantix.install")
    if not disk or disk == "ask":
        return None
    text = yaml.safe_dump({"disk": disk, "hostname": args.get("quantix.hostname")})
    return parse_answers(text.replace("hostname: null\n", ""))


# Settings of the installer's own node.yaml that the installed host keeps (a slow
# machine's fence_after, the watchdog switch); never its cluster or identity.
INHERITED = ("fence_after", "heartbeat", "watchdog")


def node_yaml(a: Answers, running: dict[str, object] | None = None) -> str:
    doc: dict[str, object] = {"libvirt_uri": "qemu:///system", "watchdog": True}
    for key in INHERITED:
        if running and key in running:
            doc[key] = running[key]
    if a.cluster_name and a.cluster_secret:
        doc["cluster"] = {"name": a.cluster_name, "secret": a.cluster_secret}
    return "# Written by the Quantix-OS installer (docs/peer.md).\n" + yaml.safe_dump(doc)


def squashfs_size(header: bytes) -> int:
    """Bytes a squashfs uses, from its superblock (``bytes_used`` at offset 40),
    rounded up to 4 KiB: what to copy of a slot partition."""
    if header[:4] != b"hsqs":
        raise InstallError("the running slot does not hold a squashfs")
    used = int.from_bytes(header[40:48], "little")
    return (used + 4095) // 4096 * 4096


# -- the steps, on a real host --------------------------------------------------------
Log = Callable[[str], None]


def _run(argv: list[str], stdin: bytes | None = None) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).decode(errors="replace").strip()
        raise InstallError(f"{argv[0]} failed: {err[-500:]}")
    return proc.stdout.decode(errors="replace")


def _partition(disk: str, number: int) -> str:
    base = os.path.basename(disk)
    sep = "p" if base[-1].isdigit() else ""  # nvme0n1p1, mmcblk0p1; sda1, vdb1
    return f"{disk}{sep}{number}"


def _disk_of(dev: str) -> str:
    """The whole disk a partition device belongs to (/dev/vda2 -> /dev/vda)."""
    name = os.path.basename(os.path.realpath(dev))
    parent = Path(f"/sys/class/block/{name}/..").resolve().name
    return f"/dev/{parent}"


def install(a: Answers, log: Log = print) -> Layout:
    started = time.monotonic()
    slot = (RUN / "slot").read_text().strip()
    root_dev = (RUN / "root-dev").read_text().strip()
    target = os.path.realpath(a.disk)
    if not Path(target).exists():
        raise InstallError(f"no disk {a.disk}")
    if _disk_of(root_dev) == target:
        raise InstallError(f"{a.disk} is the disk this system runs from")
    size = int(_run(["blockdev", "--getsize64", target]).strip())
    layout = plan(size, disk_guid=str(uuid.uuid4()))
    log(f"installing Quantix-OS on {a.disk} ({size // 2**20} MiB)")
    _run(["wipefs", "--all", "--quiet", target])
    _run(["sfdisk", "--quiet", "--wipe", "always", target], sfdisk_script(layout).encode())
    _run(["udevadm", "settle", "--timeout=30"])
    parts = {p.label: _partition(target, p.number) for p in layout.partitions}
    for dev in parts.values():
        deadline = time.monotonic() + 30
        while not Path(dev).exists():
            if time.monotonic() > deadline:
                raise InstallError(f"{dev} did not appear")
            time.sleep(0.2)
    with open(root_dev, "rb") as f:
        used = squashfs_size(f.read(96))
    log(f"copying slot {slot.upper()} ({used // 2**20} MiB) to slot A")
    dd = ["dd", f"if={root_dev}", f"of={parts['quantix-a']}", "bs=4M", "iflag=count_bytes"]
    _run([*dd, f"count={used}", "conv=fsync", "status=none"])
    _run(["wipefs", "--all", "--quiet", parts["quantix-b"]])
    log("writing the EFI system partition")
    _write_esp(parts["quantix-esp"], slot, layout)
    log("making the data partition")
    _run(["mkfs.ext4", "-q", "-F", "-L", "quantix-data", parts["quantix-data"]])
    with tempfile.TemporaryDirectory(prefix="qx-install-") as tmp:
        _run(["mount", parts["quantix-data"], tmp])
        try:
            for d in ("config", "state"):
                (Path(tmp) / d).mkdir(mode=0o700)
            cfg = Path(tmp) / "config/node.yaml"
            fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(node_yaml(a, _running_config()))
            if a.hostname:
                (Path(tmp) / "config/hostname").write_text(a.hostname + "\n")
        finally:
            _run(["umount", tmp])
    _run(["sync"])
    log(f"installed in {time.monotonic() - started:.0f} s")
    return layout


def _running_config() -> dict[str, object]:
    try:
        raw = yaml.safe_load(Path("/etc/quantix/node.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _write_esp(dev: str, slot: str, layout: Layout) -> None:
    version = Path("/usr/lib/quantix/version").read_text().strip()
    _run(["mkfs.fat", "-F", "32", "-n", "QUANTIX", dev])
    with tempfile.TemporaryDirectory(prefix="qx-esp-") as tmp:
        esp = Path(tmp)
        _run(["mount", dev, tmp])
        try:
            for d in ("EFI/BOOT", "EFI/systemd", "loader/entries", "a"):
                (esp / d).mkdir(parents=True, exist_ok=True)
            shutil.copy(ESP / "EFI/BOOT/BOOTX64.EFI", esp / "EFI/BOOT/BOOTX64.EFI")
            shutil.copy(ESP / "EFI/BOOT/BOOTX64.EFI", esp / "EFI/systemd/systemd-bootx64.efi")
            shutil.copy(ESP / slot / "vmlinuz", esp / "a/vmlinuz")
            shutil.copy(ESP / slot / "initrd.img", esp / "a/initrd.img")
            shutil.copy(ESP / "loader/loader.conf", esp / "loader/loader.conf")
            entry = bootentry.Entry(1, "a")
            (esp / "loader/entries" / entry.filename).write_text(
                bootentry.content("a", version, disk=layout.disk_id)
            )
        finally:
            _run(["umount", tmp])


def answers_for_boot() -> Answers | None:
    """The unattended install this boot asks for: the answer file on the ESP, else
    the kernel command line; None for a normal boot."""
    if ANSWERS.exists():
        return parse_answers(ANSWERS.read_text())
    return from_cmdline(Path("/proc/cmdline").read_text())
