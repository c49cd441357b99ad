"""The disk image, made without loop devices or mounts: a sparse file, a GPT
written by ``sfdisk``, a FAT ESP filled by mtools, an ext4 data partition made by
``mkfs.ext4 -d``, each copied into place with ``dd conv=notrunc``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from distro.run import run
from peer.osimage import bootentry
from peer.osimage.layout import MIB, Layout, sfdisk_script

EFI_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
LOADER_CONF = "timeout 2\nconsole-mode keep\neditor no\n"


def squashfs(root: Path, out: Path, level: int) -> None:
    out.unlink(missing_ok=True)
    run(
        [
            "mksquashfs",
            root,
            out,
            "-comp",
            "zstd",
            "-Xcompression-level",
            str(level),
            "-noappend",
            "-quiet",
            "-no-progress",
            "-processors",
            "2",
        ]
    )


def esp(
    out: Path,
    size_mib: int,
    version: str,
    slots: dict[str, tuple[Path, Path]],
    disk_id: str = "",
    extra_files: dict[str, bytes] | None = None,
) -> None:
    """A FAT32 ESP: systemd-boot, ``loader.conf`` (no ``default``: see bootentry),
    and for each slot its kernel, initrd and a known-good entry of generation 1."""
    out.unlink(missing_ok=True)
    run(["mkfs.fat", "-C", "-F", "32", "-n", "QUANTIX", out, str(size_mib * 1024)])
    img = ["-i", str(out)]
    run(["mmd", *img, "::/EFI", "::/EFI/BOOT", "::/EFI/systemd", "::/loader", "::/loader/entries"])
    run(["mcopy", *img, EFI_BOOT, "::/EFI/BOOT/BOOTX64.EFI"])
    run(["mcopy", *img, EFI_BOOT, "::/EFI/systemd/systemd-bootx64.efi"])
    files: dict[str, bytes] = {"loader/loader.conf": LOADER_CONF.encode()}
    for slot, (kernel, initrd) in slots.items():
        run(["mmd", *img, f"::/{slot}"])
        run(["mcopy", *img, kernel, f"::/{slot}/vmlinuz"])
        run(["mcopy", *img, initrd, f"::/{slot}/initrd.img"])
        entry = bootentry.Entry(1, slot)
        files[f"loader/entries/{entry.filename}"] = bootentry.content(
            slot, version, disk=disk_id
        ).encode()
    files.update(extra_files or {})
    with tempfile.TemporaryDirectory(prefix="qx-esp-") as tmp:
        for name, data in files.items():
            src = Path(tmp) / name.replace("/", "_")
            src.write_bytes(data)
            run(["mcopy", *img, src, f"::/{name}"])


def data(out: Path, size_mib: int, files: dict[str, bytes] | None = None) -> None:
    """The ext4 data partition with its top folders (and any ``files``, e.g. a
    node.yaml made at build time)."""
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="qx-data-") as tmp:
        t = Path(tmp)
        for d in ("config", "state"):
            (t / d).mkdir(mode=0o700)
        for name, content in (files or {}).items():
            p = t / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
            p.chmod(0o600)
        run(["mkfs.ext4", "-q", "-F", "-L", "quantix-data", "-d", t, out, f"{size_mib}M"])


def disk(out: Path, layout: Layout, parts: dict[str, Path]) -> None:
    """Assemble the disk image: a GPT per ``layout``, ``parts`` (label -> file) in place."""
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    with open(tmp, "wb") as f:
        f.truncate(layout.disk_size)
    run(
        ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", tmp],
        input=sfdisk_script(layout).encode(),
    )
    for label, src in parts.items():
        p = layout.by_label(label)
        if src.stat().st_size > p.size:
            raise ValueError(f"{src.name} ({src.stat().st_size // MIB} MiB) exceeds {label}")
        run(
            [
                "dd",
                f"if={src}",
                f"of={tmp}",
                "bs=4M",
                "conv=notrunc,sparse",
                "status=none",
                "oflag=seek_bytes",
                f"seek={p.start}",
            ]
        )
    os.replace(tmp, out)
