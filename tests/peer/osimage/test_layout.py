"""The disk layout both the image builder and the installer write."""

import itertools
import json
import subprocess

import pytest

from peer.osimage.layout import (
    MIB,
    LayoutError,
    image_size,
    min_disk_size,
    plan,
    sfdisk_script,
)


def test_partitions_are_aligned_contiguous_and_leave_room_for_the_backup_gpt():
    disk = 20 * 1024 * MIB + 12345  # not a whole number of MiB
    layout = plan(disk)
    parts = layout.partitions
    assert [p.label for p in parts] == ["quantix-esp", "quantix-a", "quantix-b", "quantix-data"]
    assert parts[0].start == MIB
    for a, b in itertools.pairwise(parts):
        assert b.start == a.end
    assert all(p.start % MIB == 0 and p.size % MIB == 0 for p in parts)
    assert layout.slot("a").size == layout.slot("b").size
    assert disk - layout.data.end >= MIB  # GPT's backup header and table fit after it


def test_data_takes_the_rest_unless_sized():
    big = plan(100 * 1024 * MIB)
    assert big.data.end == (100 * 1024 - 1) * MIB
    img = plan(image_size(data_mib=1024), data_mib=1024)
    assert img.data.size == 1024 * MIB
    assert img.data.end + MIB == img.disk_size


def test_a_disk_too_small_is_refused_with_the_size_needed():
    with pytest.raises(LayoutError, match=str(min_disk_size() // MIB)):
        plan(min_disk_size() - MIB)
    plan(min_disk_size())  # exactly enough is enough


def test_sfdisk_writes_the_table_the_plan_describes(tmp_path):
    img = tmp_path / "disk.img"
    layout = plan(image_size(data_mib=600), data_mib=600)
    with open(img, "wb") as f:
        f.truncate(layout.disk_size)
    subprocess.run(
        ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(img)],
        input=sfdisk_script(layout).encode(),
        check=True,
    )
    dump = subprocess.run(["sfdisk", "--json", str(img)], capture_output=True, check=True)

    table = json.loads(dump.stdout)["partitiontable"]["partitions"]
    assert [(p["start"] * 512, p["size"] * 512, p["name"]) for p in table] == [
        (p.start, p.size, p.label) for p in layout.partitions
    ]


def test_the_disk_guid_is_written_and_read_back_as_the_initrd_reads_it(tmp_path):
    guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    layout = plan(image_size(data_mib=600), data_mib=600, disk_guid=guid)
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(layout.disk_size)
    subprocess.run(
        ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(img)],
        input=sfdisk_script(layout).encode(),
        check=True,
    )
    with open(img, "rb") as f:
        f.seek(512 + 56)  # what the initrd's hexdump reads
        assert f.read(16).hex() == layout.disk_id == "3c2d1e0f5a4b78698796a5b4c3d2e1f0"
