"""Update bundles: only a bundle signed by the build's key, with every file intact,
is accepted."""

import io
import tarfile

import pytest

from peer.osimage import bundle
from peer.osimage.bundle import BundleError


@pytest.fixture
def keys(tmp_path):
    bundle.make_key(tmp_path / "update.key", tmp_path / "update.pub")
    return bundle.load_private(tmp_path / "update.key"), (tmp_path / "update.pub").read_bytes()


def _bundle(tmp_path, key, version="1.0.1", root=b"squash" * 1000):
    src = {}
    for name, data in (("vmlinuz", b"kernel"), ("initrd.img", b"initrd"), ("root.squashfs", root)):
        src[name] = tmp_path / name
        src[name].write_bytes(data)
    out = tmp_path / "b.bundle"
    bundle.write(out, version, src, key)
    return out


def test_a_signed_bundle_verifies_and_streams_its_files(tmp_path, keys):
    key, pub = keys
    path = _bundle(tmp_path, key)
    sink = io.BytesIO()
    with open(path, "rb") as f:
        m = bundle.read(f, pub, {"root.squashfs": sink})
    assert m.version == "1.0.1"
    assert sink.getvalue() == b"squash" * 1000
    assert (tmp_path / "update.key").stat().st_mode & 0o777 == 0o600


def test_another_keys_bundle_is_refused(tmp_path, keys):
    other = tmp_path / "other"
    other.mkdir()
    bundle.make_key(other / "k", other / "p")
    path = _bundle(tmp_path, bundle.load_private(other / "k"))
    with pytest.raises(BundleError, match="not signed by this image's update key"):
        bundle.verify(path, keys[1])


def test_a_file_changed_after_signing_is_refused(tmp_path, keys):
    path = _bundle(tmp_path, keys[0])
    data = bytearray(path.read_bytes())
    at = data.rfind(b"squashsquash")
    data[at] = ord("X")
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"root\.squashfs does not match"):
        bundle.verify(path, keys[1])


def test_extra_missing_or_reordered_members_are_refused(tmp_path, keys):
    good = _bundle(tmp_path, keys[0])
    with tarfile.open(good) as t:
        members = [(m, t.extractfile(m).read()) for m in t.getmembers()]

    def rewrite(items):
        out = tmp_path / "x.bundle"
        with tarfile.open(out, "w") as t:
            for m, data in items:
                t.addfile(m, io.BytesIO(data))
        return out

    with pytest.raises(BundleError, match="incomplete"):
        bundle.verify(rewrite(members[:-1]), keys[1])
    with pytest.raises(BundleError, match="unexpected member"):
        bundle.verify(rewrite([members[1], members[0], *members[2:]]), keys[1])
    evil = tarfile.TarInfo("../../etc/passwd")
    evil.size = 1
    with pytest.raises(BundleError, match="unexpected member"):
        bundle.verify(rewrite([*members[:2], (evil, b"x"), *members[2:]]), keys[1])
    with pytest.raises(BundleError, match="not a bundle"):
        bundle.verify(tmp_path / "vmlinuz", keys[1])
