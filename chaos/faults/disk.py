"""The data disk full: each host's data dir is a small tmpfs from before its peer's
first start (``mount_data_tmpfs``), so filling it loses nothing: the fault writes
one file until ENOSPC and removes it on heal. Unmount only after the peer is gone."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Any

from chaos.faults.base import Fault
from chaos.lab import Lab

FILL = ".quantix-chaos-fill"
CHUNK = 1 << 20


def mount_data_tmpfs(data_dir: Path, size_mib: int) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size_mib}m,mode=0700",
            "quantix-chaos",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )


def is_mount(path: Path) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


def unmount(path: Path) -> None:
    if is_mount(path):
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(path: Path) -> int:
    """Write ``path`` until the file system is full; returns the bytes written."""
    written = 0
    zeros = b"\0" * CHUNK
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                n = os.write(fd, zeros)
            except OSError:
                break  # ENOSPC (or the last partial chunk)
            if n <= 0:
                break
            written += n
        with contextlib.suppress(OSError):  # the last few bytes, one page at a time
            while os.write(fd, b"\0" * 4096) > 0:
                written += 4096
    finally:
        os.close(fd)
    return written


class DiskFull(Fault):
    kind = "disk_full"

    def __init__(self, lab: Lab, hosts: list[str]) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.filled: dict[str, int] = {}

    def params(self) -> dict[str, Any]:
        return {"filled_bytes": self.filled}

    def up_hosts(self, everyone: list[str]) -> list[str]:
        return [h for h in everyone if h not in self.hosts]

    def inject(self) -> None:
        for h in self.hosts:
            data = self.lab.host(h).data_dir
            if not is_mount(data):
                self.notes.append(f"{h}: data dir is not a chaos tmpfs; not filled")
                continue
            self.filled[h] = fill(data / FILL)

    def heal(self) -> None:
        for h in self.hosts:
            with contextlib.suppress(FileNotFoundError):
                (self.lab.host(h).data_dir / FILL).unlink()
