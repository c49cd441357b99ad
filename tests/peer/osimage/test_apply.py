"""Installing a bundle into the inactive slot: the running slot's entry is never
touched, the new entry appears only once everything verified."""

import pytest

from peer.osimage import apply, bootentry, bundle


@pytest.fixture
def host(tmp_path):
    bundle.make_key(tmp_path / "k", tmp_path / "k.pub")
    esp = tmp_path / "esp"
    (esp / "loader/entries").mkdir(parents=True)
    (esp / "loader/entries/quantix-000001-a.conf").write_text("running\n")
    (esp / "loader/entries/quantix-000000-b.conf").write_text("an old B\n")
    slot_b = tmp_path / "slot-b"
    slot_b.write_bytes(b"\0" * (1 << 20))
    files = ["quantix-000001-a.conf", "quantix-000000-b.conf"]
    where = (apply.Target("b", slot_b, esp, "ab" * 16), bootentry.plan_update(files, "a"))
    return tmp_path, esp, slot_b, where


def _bundle(tmp_path, key_file, root=b"hsqs" + b"r" * 5000):
    src = {}
    for name, data in (("vmlinuz", b"K"), ("initrd.img", b"I"), ("root.squashfs", root)):
        src[name] = tmp_path / name
        src[name].write_bytes(data)
    bundle.write(tmp_path / "u.bundle", "9.9.9", src, bundle.load_private(key_file))
    return tmp_path / "u.bundle"


def test_a_bundle_goes_to_the_other_slot_with_one_try(host):
    tmp, esp, slot_b, where = host
    path = _bundle(tmp, tmp / "k")
    with open(path, "rb") as f:
        done = apply.apply(f, (tmp / "k.pub").read_bytes(), where)
    assert (done.version, done.slot, done.entry) == ("9.9.9", "b", "quantix-000002-b+1.conf")
    entries = sorted(p.name for p in (esp / "loader/entries").iterdir())
    assert entries == ["quantix-000001-a.conf", "quantix-000002-b+1.conf"]
    assert (esp / "loader/entries/quantix-000001-a.conf").read_text() == "running\n"
    text = (esp / "loader/entries/quantix-000002-b+1.conf").read_text()
    assert "linux /b/vmlinuz" in text and "quantix.disk=" + "ab" * 16 in text
    assert (esp / "b/vmlinuz").read_bytes() == b"K"
    assert slot_b.read_bytes().startswith(b"hsqs" + b"r" * 5000)
    assert bootentry.booted_first(entries) == bootentry.Entry(2, "b", 1)


def test_a_bundle_from_another_key_changes_no_entry(host):
    tmp, esp, _slot_b, where = host
    (tmp / "o").mkdir()
    bundle.make_key(tmp / "o/k", tmp / "o/p")
    path = _bundle(tmp, tmp / "o/k")
    with open(path, "rb") as f, pytest.raises(bundle.BundleError):
        apply.apply(f, (tmp / "k.pub").read_bytes(), where)
    entries = sorted(p.name for p in (esp / "loader/entries").iterdir())
    assert entries == ["quantix-000001-a.conf"]  # B's old entry is gone, no new one
    assert not (esp / "b/vmlinuz").exists()
    assert [p.name for p in (esp / "b").iterdir()] == []
