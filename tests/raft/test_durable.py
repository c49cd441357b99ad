"""The on-disk journal, metadata and snapshot files: round trips and damage."""

import logging
import os

import pytest

from raft.durable import META_COMMIT_EVERY, DurableJournal, read_snapshot, write_snapshot
from raft.errors import CorruptJournal


def journal(tmp_path):
    return DurableJournal(tmp_path / "raft.journal", tmp_path / "raft.meta")


def fill(j, n, start=1, term=1):
    for i in range(start, start + n):
        j.add(b"cmd-%d" % i, i, term)
    j.sync()


def test_entries_survive_reopen(tmp_path):
    j = journal(tmp_path)
    fill(j, 50)
    j.close()
    j2 = journal(tmp_path)
    assert len(j2) == 50
    assert j2[0] == (b"cmd-1", 1, 1) and j2[-1] == (b"cmd-50", 50, 1)
    assert [e[1] for e in j2[10:13]] == [11, 12, 13]


def test_unsynced_appends_are_written_by_sync_only(tmp_path):
    j = journal(tmp_path)
    fill(j, 3)
    j.add(b"late", 4, 1)
    size = (tmp_path / "raft.journal").stat().st_size
    assert j.needs_sync
    j.sync()
    assert (tmp_path / "raft.journal").stat().st_size > size and not j.needs_sync


def test_suffix_deletion_then_append(tmp_path):
    j = journal(tmp_path)
    fill(j, 10)
    j.deleteEntriesFrom(6)  # keep entries 1..6
    j.add(b"new-7", 7, 2)
    j.sync()
    j.close()
    j2 = journal(tmp_path)
    assert [e[1] for e in j2[:]] == list(range(1, 8))
    assert j2[-1] == (b"new-7", 7, 2)


def test_prefix_deletion_rewrites_atomically(tmp_path):
    j = journal(tmp_path)
    fill(j, 10)
    j.deleteEntriesTo(7)  # drop entries 1..7
    fill(j, 2, start=11)
    j.close()
    j2 = journal(tmp_path)
    assert [e[1] for e in j2[:]] == [8, 9, 10, 11, 12]
    assert not (tmp_path / "raft.journal.tmp").exists()


def test_term_vote_and_commit_index_persist(tmp_path):
    j = journal(tmp_path)
    fill(j, 5)
    j.setCurrentTerm(7, "127.0.0.1:9000")
    j.setRaftCommitIndex(4)
    for _ in range(META_COMMIT_EVERY):  # saved lazily, every META_COMMIT_EVERY seconds
        j.onOneSecondTimer()
    j.setRaftCommitIndex(5)
    for _ in range(META_COMMIT_EVERY - 1):  # not yet
        j.onOneSecondTimer()
    os.close(j._fd)  # a crash: no close()
    j2 = journal(tmp_path)
    assert j2.getCurrentTerm() == 7 and j2.getVotedForNodeId() == "127.0.0.1:9000"
    assert j2.getRaftCommitIndex() == 4


def test_commit_index_never_points_past_the_log(tmp_path):
    j = journal(tmp_path)
    fill(j, 5)
    j.setRaftCommitIndex(5)
    j.close()
    path = tmp_path / "raft.journal"
    path.write_bytes(path.read_bytes()[:-3])  # the last entry is torn
    assert journal(tmp_path).getRaftCommitIndex() == 4


def test_torn_tail_is_cut_with_a_warning(tmp_path, caplog):
    j = journal(tmp_path)
    fill(j, 20)
    j.close()
    path = tmp_path / "raft.journal"
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with caplog.at_level(logging.WARNING):
        j2 = journal(tmp_path)
    assert len(j2) == 19 and j2.cut_bytes > 0
    assert "torn tail" in caplog.text
    # The cut is durable: the file now ends at the last good entry.
    fill(j2, 1, start=20, term=2)
    j2.close()
    assert journal(tmp_path)[-1] == (b"cmd-20", 20, 2)


def test_garbled_final_record_is_cut(tmp_path):
    j = journal(tmp_path)
    fill(j, 20)
    j.close()
    path = tmp_path / "raft.journal"
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert len(journal(tmp_path)) == 19


def test_zero_filled_tail_is_cut(tmp_path):
    j = journal(tmp_path)
    fill(j, 5)
    j.close()
    path = tmp_path / "raft.journal"
    path.write_bytes(path.read_bytes() + b"\0" * 4096)
    assert len(journal(tmp_path)) == 5


def test_damage_followed_by_valid_entries_refuses_to_load(tmp_path):
    j = journal(tmp_path)
    fill(j, 20)
    j.close()
    path = tmp_path / "raft.journal"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptJournal) as e:
        journal(tmp_path)
    assert "valid entry" in e.value.message and "rejoin" in e.value.message


def test_foreign_file_refuses_to_load(tmp_path):
    (tmp_path / "raft.journal").write_bytes(b"PYSYNCOBJ\0\0\0 something else")
    with pytest.raises(CorruptJournal):
        journal(tmp_path)


def test_damaged_meta_refuses_to_load(tmp_path):
    j = journal(tmp_path)
    j.setCurrentTerm(3, None)
    j.close()
    meta = tmp_path / "raft.meta"
    data = bytearray(meta.read_bytes())
    data[-1] ^= 0xFF
    meta.write_bytes(bytes(data))
    with pytest.raises(CorruptJournal):
        journal(tmp_path)


def test_snapshot_round_trip_and_damage(tmp_path):
    path = tmp_path / "raft.snapshot"
    body = {"format": 1, "last": [b"x", 9, 2], "prev": [b"y", 8, 2], "state": {"a": [1, 2]}}
    write_snapshot(path, body)
    assert read_snapshot(path) == body
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptJournal) as e:
        read_snapshot(path)
    assert "checksum" in e.value.message
    path.write_bytes(bytes(data[:30]))
    with pytest.raises(CorruptJournal):
        read_snapshot(path)


def test_a_failed_write_leaves_no_gap_and_is_retried(tmp_path, monkeypatch):
    # A disk that fills up mid-write: part of the records land, then ENOSPC.
    import errno

    import raft.durable as durable

    j = journal(tmp_path)
    fill(j, 2)
    j.sync()
    real = durable._write_all

    def half_then_full(fd, data, offset):
        real(fd, data[: len(data) // 2], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable, "_write_all", half_then_full)
    j.add(b"cmd3", 3, 1)
    with pytest.raises(OSError):
        j.sync()
    assert j.needs_sync  # nothing was counted as durable
    monkeypatch.setattr(durable, "_write_all", real)
    j.add(b"cmd4", 4, 1)
    j.sync()  # space again: the buffered record goes first, in order
    j.close()
    j2 = journal(tmp_path)
    assert [(e[0], e[1]) for e in j2] == [
        (b"cmd-1", 1),
        (b"cmd-2", 2),
        (b"cmd3", 3),
        (b"cmd4", 4),
    ]
