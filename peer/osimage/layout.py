"""The Quantix-OS disk layout: where each partition of a GPT disk starts and ends.

Pure: sizes in, a ``Layout`` out, and the ``sfdisk`` script that writes it. Used by
the image builder (a disk image file) and by the installer (a real disk), so both
make the same table:

    1  quantix-esp   EFI system partition: systemd-boot, a kernel + initrd per slot
    2  quantix-a     root slot A: a read-only squashfs
    3  quantix-b     root slot B: the same size, the other slot of an update
    4  quantix-data  ext4, the rest of the disk: /etc/quantix, /var/lib/quantix, VM data

Partitions start on 1 MiB boundaries; the last 1 MiB is left for GPT's backup table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

MIB = 1024 * 1024
SECTOR = 512
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
# Plain "Linux filesystem", not the discoverable root type: systemd's gpt-auto
# generator must not try to mount a slot by itself.
LINUX_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

ESP_MIB = 128
SLOT_MIB = 768
MIN_DATA_MIB = 512
SLOTS = ("a", "b")
LABELS = {"esp": "quantix-esp", "a": "quantix-a", "b": "quantix-b", "data": "quantix-data"}


class LayoutError(ValueError):
    """The disk is too small for the layout, or a size is invalid."""


@dataclass(frozen=True)
class Partition:
    number: int
    label: str
    type_guid: str
    start: int  # bytes from the start of the disk
    size: int  # bytes

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def start_sector(self) -> int:
        return self.start // SECTOR

    @property
    def sectors(self) -> int:
        return self.size // SECTOR


@dataclass(frozen=True)
class Layout:
    disk_size: int
    partitions: tuple[Partition, ...]
    disk_guid: str = ""  # the GPT's disk GUID (sfdisk picks one when empty)

    @property
    def disk_id(self) -> str:
        """The disk GUID as the initrd reads it: the 16 raw bytes in hex
        (``quantix.disk=`` on the kernel command line)."""
        return disk_id(self.disk_guid) if self.disk_guid else ""

    def by_label(self, label: str) -> Partition:
        for p in self.partitions:
            if p.label == label:
                return p
        raise KeyError(label)

    def slot(self, slot: str) -> Partition:
        return self.by_label(LABELS[slot])

    @property
    def esp(self) -> Partition:
        return self.by_label(LABELS["esp"])

    @property
    def data(self) -> Partition:
        return self.by_label(LABELS["data"])


def disk_id(guid: str) -> str:
    """GPT stores a GUID's first three fields little-endian: the raw bytes in hex."""
    return uuid.UUID(guid).bytes_le.hex()


def min_disk_size(esp_mib: int = ESP_MIB, slot_mib: int = SLOT_MIB) -> int:
    """The smallest disk that holds the layout (1 MiB before, 1 MiB after)."""
    return (1 + esp_mib + 2 * slot_mib + MIN_DATA_MIB + 1) * MIB


def plan(
    disk_size: int,
    *,
    esp_mib: int = ESP_MIB,
    slot_mib: int = SLOT_MIB,
    data_mib: int | None = None,
    disk_guid: str = "",
) -> Layout:
    """The layout of a disk of ``disk_size`` bytes. The data partition takes the
    rest of the disk unless ``data_mib`` is given (an image file kept small)."""
    if esp_mib < 32 or slot_mib < 64:
        raise LayoutError("the ESP needs 32+ MiB and a slot 64+ MiB")
    need = min_disk_size(esp_mib, slot_mib)
    if disk_size < need:
        raise LayoutError(
            f"the disk has {disk_size // MIB} MiB; Quantix-OS needs at least {need // MIB} MiB"
        )
    usable_end = (disk_size // MIB - 1) * MIB  # the backup GPT lives after this
    parts: list[Partition] = []
    pos = MIB
    for number, (key, type_guid, mib) in enumerate(
        [("esp", ESP_TYPE, esp_mib), ("a", LINUX_TYPE, slot_mib), ("b", LINUX_TYPE, slot_mib)],
        start=1,
    ):
        parts.append(Partition(number, LABELS[key], type_guid, pos, mib * MIB))
        pos += mib * MIB
    data_size = usable_end - pos if data_mib is None else data_mib * MIB
    if data_size < MIN_DATA_MIB * MIB or pos + data_size > usable_end:
        raise LayoutError(f"the data partition needs {MIN_DATA_MIB}+ MiB within the disk")
    parts.append(Partition(4, LABELS["data"], LINUX_TYPE, pos, data_size))
    return Layout(disk_size, tuple(parts), disk_guid)


def image_size(esp_mib: int = ESP_MIB, slot_mib: int = SLOT_MIB, data_mib: int = 1024) -> int:
    """The size of a disk image file whose data partition is ``data_mib``."""
    return (1 + esp_mib + 2 * slot_mib + data_mib + 1) * MIB


def sfdisk_script(layout: Layout) -> str:
    """Input for ``sfdisk`` that writes this layout as a GPT."""
    lines = ["label: gpt", "unit: sectors", "sector-size: 512"]
    if layout.disk_guid:
        lines.append(f"label-id: {layout.disk_guid.upper()}")
    lines.append("")
    for p in layout.partitions:
        lines.append(
            f"start={p.start_sector}, size={p.sectors}, type={p.type_guid}, name={p.label}"
        )
    return "\n".join(lines) + "\n"
