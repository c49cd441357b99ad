"""The TXT codec: what peers read about each other, and never a secret."""

from __future__ import annotations

import pytest

from discovery.errors import TxtError
from discovery.model import Announcement
from discovery.txt import encode_txt, parse_txt, split_txt


def ann(**kw: object) -> Announcement:
    base: dict[str, object] = dict(
        node_id="a1b2c3", cluster_name="prod", cluster_id="c-1", api_port=8443,
        raft_port=8444, version="0.1.0", role="member", hostname="h1",
    )  # fmt: skip
    base.update(kw)
    return Announcement(**base)  # type: ignore[arg-type]


def raw(**pairs: str) -> bytes:
    out = b""
    for k, v in pairs.items():
        item = f"{k}={v}".encode()
        out += bytes([len(item)]) + item
    return out


GOOD = dict(
    txtvers="1", id="n1", cl="prod", cid="c1", api="8443", raft="8444", ver="1.0", role="leader"
)


def test_round_trip_member_and_factory() -> None:
    for a in (ann(), ann(role="leader"), ann(cluster_name="", cluster_id="", role="factory")):
        assert parse_txt(encode_txt(a)) == a


def test_young_is_sent_only_while_true_and_absent_means_settled() -> None:
    young = ann(young=True)
    assert split_txt(encode_txt(young))["yg"] == "1" and parse_txt(encode_txt(young)) == young
    assert "yg" not in split_txt(encode_txt(ann()))
    # An older peer sends no key: settled, the reading that never dissolves anyone into it.
    assert parse_txt(raw(**GOOD)).young is False
    assert parse_txt(raw(**{**GOOD, "yg": "1"})).young is True
    with pytest.raises(TxtError):
        ann(cluster_id="", role="joining", young=True)


def test_record_has_only_hint_keys() -> None:
    keys = set(split_txt(encode_txt(ann())))
    assert keys == {"txtvers", "id", "cl", "cid", "api", "raft", "ver", "role", "host", "fp"}


def test_parse_ignores_unknown_keys_and_keeps_first_duplicate() -> None:
    data = raw(**GOOD, future="x") + raw(role="member")
    a = parse_txt(data)
    assert a.role == "leader" and a.node_id == "n1"


def test_keys_are_case_insensitive() -> None:
    data = raw(**{k.upper(): v for k, v in GOOD.items()})
    assert parse_txt(data).cluster_id == "c1"


@pytest.mark.parametrize(
    "change",
    [
        {"api": "0"},
        {"api": "70000"},
        {"raft": "-1"},
        {"raft": "84x4"},
        {"id": "Bad.Id"},
        {"cl": "Prod!"},
        {"role": "king"},
        {"txtvers": "2"},
        {"role": "factory"},  # factory with a cluster name: contradictory
        {"cid": ""},  # leader without a cluster id
        {"ver": ""},
    ],
)
def test_parse_rejects_bad_fields(change: dict[str, str]) -> None:
    with pytest.raises(TxtError):
        parse_txt(raw(**{**GOOD, **change}))


def test_parse_rejects_missing_keys_and_garbage() -> None:
    pairs = dict(GOOD)
    del pairs["raft"]
    with pytest.raises(TxtError, match="raft"):
        parse_txt(raw(**pairs))
    with pytest.raises(TxtError, match="truncated"):
        parse_txt(b"\x20abc")
    with pytest.raises(TxtError, match="non-ASCII"):
        parse_txt(bytes([4]) + "é=1".encode())
    with pytest.raises(TxtError):
        parse_txt(b"")


def test_announcement_validates_on_construction() -> None:
    with pytest.raises(TxtError):
        ann(api_port=True)
    with pytest.raises(TxtError):
        ann(role="member", cluster_id="")
