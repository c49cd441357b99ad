"""The journal's disk reserve: a full disk costs the reserve, not the journal."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from raft import durable
from raft.durable import DurableJournal
from raft.reserve import SpaceReserve


def test_a_write_that_finds_the_disk_full_uses_the_reserve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    reserve = SpaceReserve(tmp_path / "raft.reserve", 1 << 20, mono=lambda: now[0])
    assert (tmp_path / "raft.reserve").stat().st_size == 1 << 20 and not reserve.in_use
    j = DurableJournal(tmp_path / "raft.journal", tmp_path / "raft.meta", reserve=reserve)
    real = durable._write_all
    full = [True]

    def write_all(fd: int, data: bytes, offset: int) -> Any:
        # ENOSPC until the reserve is gone (what a full disk does).
        if full[0] and (tmp_path / "raft.reserve").exists():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, offset)

    monkeypatch.setattr(durable, "_write_all", write_all)
    j.add(b"cmd-1", 1, 1)
    j.sync()  # does not raise: the reserve was given up and the write retried
    assert reserve.in_use and not (tmp_path / "raft.reserve").exists()
    j.close()
    again = DurableJournal(tmp_path / "raft.journal", tmp_path / "raft.meta")
    assert [e[0] for e in again] == [b"cmd-1"]
    again.close()
    # Room again: the reserve comes back at the next check.
    now[0] = 10.0
    reserve.maybe_restore()
    assert not reserve.in_use and (tmp_path / "raft.reserve").exists()


def test_without_a_reserve_a_full_disk_still_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = DurableJournal(tmp_path / "raft.journal", tmp_path / "raft.meta")

    def write_all(fd: int, data: bytes, offset: int) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(durable, "_write_all", write_all)
    j.add(b"cmd-1", 1, 1)
    with pytest.raises(OSError):
        j.sync()
