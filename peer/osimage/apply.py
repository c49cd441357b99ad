"""Installing an update bundle on this host: verify as it streams, write the slot
that is not running, point a boot entry with one try at it.

Order (each step leaves the host bootable as it was):

1. the target slot's old entries are removed, so nothing boots a slot being written;
2. the bundle streams through ``bundle.read``: the manifest's signature is checked
   before any file is taken, the kernel and initrd go to temporary files on the
   ESP, the squashfs straight onto the target slot's partition, every hash checked;
3. only then are the kernel and initrd renamed into ``/<slot>/`` and the entry
   ``quantix-<gen>-<slot>+1.conf`` written (atomically).

The host then reboots: systemd-boot tries the new slot once; the health check
(``quantix-health.service``) blesses it or the previous slot boots again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from peer.osimage import bootentry, bundle, slots
from peer.osimage.layout import LABELS

PUBLIC_KEY = Path("/usr/share/quantix/update.pub")


class ApplyError(RuntimeError):
    """This host cannot take an update (not Quantix-OS, no ESP, a slot missing)."""

    code = "os_update_failed"


@dataclass(frozen=True)
class Applied:
    version: str
    slot: str
    entry: str


@dataclass(frozen=True)
class Target:
    """Where an update goes on this host's disk."""

    slot: str
    device: Path  # the slot's partition
    esp: Path  # the mounted ESP
    disk_id: str  # quantix.disk= of the running entry


def slot_device(root_dev: str, slot: str) -> Path:
    """The partition of ``slot`` on the disk ``root_dev`` is on (same disk, its
    own number: layout.plan numbers esp 1, a 2, b 3, data 4)."""
    number = {"a": 2, "b": 3}[slot]
    name = Path(root_dev).name
    disk = Path(f"/sys/class/block/{name}/..").resolve().name
    sep = "p" if disk[-1].isdigit() else ""
    return Path(f"/dev/{disk}{sep}{number}")


def target(run: Path = slots.RUN, esp: Path = slots.ESP) -> tuple[Target, bootentry.UpdatePlan]:
    slot = slots.running_slot()
    if slot is None:
        raise ApplyError("this host does not run Quantix-OS: nothing to update")
    if not (esp / "loader/entries").is_dir():
        raise ApplyError(f"the EFI system partition is not mounted at {esp}")
    plan = bootentry.plan_update(slots.entry_files(esp), slot)
    root_dev = (run / "root-dev").read_text().strip()
    dev = slot_device(root_dev, plan.slot)
    if not dev.exists():
        raise ApplyError(f"no partition {dev} for slot {plan.slot.upper()} ({LABELS[plan.slot]})")
    return Target(plan.slot, dev, esp, slots.cmdline_option("quantix.disk")), plan


def apply(
    stream: IO[bytes],
    public_key: bytes | None = None,
    where: tuple[Target, bootentry.UpdatePlan] | None = None,
) -> Applied:
    """Verify and install the bundle read from ``stream`` (blocking I/O: run it in
    a thread). Raises ``bundle.BundleError`` for a bundle that does not verify and
    ``ApplyError`` when this host cannot take it; either way the running slot's
    entry is untouched. ``where`` defaults to this host's own ``target()``."""
    key = public_key if public_key is not None else PUBLIC_KEY.read_bytes()
    tgt, plan = where if where is not None else target()
    for name in plan.remove:
        (tgt.esp / "loader/entries" / name).unlink(missing_ok=True)
    slot_dir = tgt.esp / tgt.slot
    slot_dir.mkdir(exist_ok=True)
    tmp = {n: slot_dir / f".{n}.new" for n in ("vmlinuz", "initrd.img")}
    try:
        with (
            open(tmp["vmlinuz"], "wb") as k,
            open(tmp["initrd.img"], "wb") as i,
            open(tgt.device, "r+b") as dev,
        ):
            manifest = bundle.read(
                stream, key, {"vmlinuz": k, "initrd.img": i, "root.squashfs": dev}
            )
            dev.flush()
            os.fsync(dev.fileno())
        for name, path in tmp.items():
            os.replace(path, slot_dir / name)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    entry = plan.entry
    text = bootentry.content(tgt.slot, manifest.version, disk=tgt.disk_id)
    part = tgt.esp / "loader/entries" / f".{entry.filename}.new"
    part.write_text(text)
    os.replace(part, tgt.esp / "loader/entries" / entry.filename)
    os.sync()
    return Applied(manifest.version, tgt.slot, entry.filename)
