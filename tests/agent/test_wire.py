"""The msgpack subset and the frames: what both ends rely on, without a guest."""

from __future__ import annotations

import zlib

import msgpack
import pytest

from agent.frames import HEADER, MAGIC, FrameError, FrameReader, encode
from agent.wire import WireError, packb, unpackb

SAMPLES = [
    None,
    True,
    False,
    0,
    127,
    128,
    -1,
    -32,
    -33,
    255,
    256,
    65535,
    65536,
    2**32,
    2**64 - 1,
    -(2**63),
    1.5,
    "",
    "x" * 31,
    "y" * 32,
    "é" * 300,
    "z" * 70000,
    b"",
    b"\x00" * 300,
    b"b" * 70000,
    [],
    list(range(20)),
    {"a": 1, "b": [1, {"c": None}]},
    {str(i): i for i in range(20)},
]


@pytest.mark.parametrize("obj", SAMPLES, ids=range(len(SAMPLES)))
def test_subset_matches_real_msgpack(obj):
    ours = packb(obj)
    assert ours == msgpack.packb(obj, use_bin_type=True)
    assert unpackb(ours) == obj
    assert unpackb(msgpack.packb(obj, use_bin_type=True)) == obj


@pytest.mark.parametrize(
    "data",
    [b"\xc1", b"\xd9\x05ab", b"\x92\x01", b"\xdd\xff\xff\xff\xff", b"\x81\x90\x01", b"\x01\x02"],
)
def test_bad_or_truncated_input_is_refused(data):
    with pytest.raises(WireError):
        unpackb(data)


def test_depth_limit():
    with pytest.raises(WireError):
        unpackb(b"\x91" * 100 + b"\xc0")


def test_frames_round_trip_in_pieces():
    msgs = [{"t": "req", "id": i, "op": "ping", "args": {}} for i in range(5)]
    stream = b"".join(encode(m) for m in msgs)
    r = FrameReader()
    got = []
    for i in range(0, len(stream), 7):
        got += r.feed(stream[i : i + 7])
    assert got == msgs and r.pending == 0


def test_guest_reader_resyncs_past_garbage_and_half_frames():
    good = encode({"t": "req", "id": 1, "op": "ping", "args": {}})
    half = encode({"t": "req", "id": 9, "op": "info", "args": {}})[:10]
    r = FrameReader()
    assert r.feed(b"junk" + MAGIC + b"\x01" + half + good) == [
        {"t": "req", "id": 1, "op": "ping", "args": {}}
    ]
    assert r.skipped > 0


def test_corrupt_payload_is_skipped_by_crc():
    frame = bytearray(encode({"id": 1}))
    frame[-1] ^= 0xFF
    r = FrameReader()
    assert r.feed(bytes(frame) + encode({"id": 2})) == [{"id": 2}]


def test_host_reader_refuses_garbage_after_a_good_frame():
    r = FrameReader(skip_budget=1024, strict_after_good=True)
    assert r.feed(b"leftover" + encode({"id": 1})) == [{"id": 1}]
    with pytest.raises(FrameError):
        r.feed(b"garbage")


def test_host_reader_refuses_oversized_length_and_spent_budget():
    r = FrameReader(max_payload=1000, skip_budget=100, strict_after_good=True)
    r.feed(encode({"id": 1}))
    with pytest.raises(FrameError, match="exceeds"):
        r.feed(HEADER.pack(MAGIC, 1, 10**9, 0))
    r2 = FrameReader(skip_budget=100, strict_after_good=True)
    with pytest.raises(FrameError, match="skipped"):
        r2.feed(b"\x00" * 500)


def test_payload_must_be_a_map():
    payload = packb([1, 2])
    frame = HEADER.pack(MAGIC, 1, len(payload), zlib.crc32(payload)) + payload
    r = FrameReader(strict_after_good=True)
    r.feed(encode({"id": 0}))
    with pytest.raises(FrameError, match="map"):
        r.feed(frame)
