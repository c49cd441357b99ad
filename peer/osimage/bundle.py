"""Update bundles: one root slot, its kernel and initrd, and a signed manifest.

A bundle is an uncompressed tar (the squashfs is compressed already) whose members
come in this order, and no others:

    manifest.json   {"format": 1, "product": "quantix-os", "version": ...,
                     "files": {name: {"size": n, "sha256": hex}}}
    manifest.sig    Ed25519 signature of manifest.json's exact bytes
    vmlinuz, initrd.img, root.squashfs

The image build makes the signing key once (``.cache/os/keys/update.key``, 0600)
and puts the public key in every image (``/usr/share/quantix/update.pub``); a host
installs a bundle only when the signature checks against that key and every file
matches the manifest. Verification streams: it never holds a file in memory, and
names come from the manifest's fixed set, never from the archive (no paths).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = 1
PRODUCT = "quantix-os"
FILES = ("vmlinuz", "initrd.img", "root.squashfs")
MEMBERS = ("manifest.json", "manifest.sig", *FILES)
MAX_MANIFEST = 64 * 1024
CHUNK = 1024 * 1024


class BundleError(ValueError):
    """A bundle that is malformed, unsigned, signed by another key, or altered."""

    code = "invalid_bundle"


@dataclass(frozen=True)
class Manifest:
    version: str
    files: dict[str, dict[str, Any]]
    raw: bytes

    def size(self, name: str) -> int:
        return int(self.files[name]["size"])

    def sha256(self, name: str) -> str:
        return str(self.files[name]["sha256"])


# -- keys ---------------------------------------------------------------------------
def make_key(private: Path, public: Path) -> None:
    """A new signing key pair (the private key file is created 0600)."""
    key = Ed25519PrivateKey.generate()
    private.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(private, "wb", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
        fh.write(pem)
    public.write_bytes(public_pem(key))


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} is not an Ed25519 private key")
    return key


def load_public(data: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise BundleError(f"not a public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError("the update key must be an Ed25519 public key")
    return key


# -- manifest -----------------------------------------------------------------------
def manifest_bytes(version: str, files: dict[str, tuple[int, str]]) -> bytes:
    """The canonical manifest for ``files`` (name -> (size, sha256 hex))."""
    if set(files) != set(FILES):
        raise BundleError(f"a bundle holds exactly {', '.join(FILES)}")
    doc = {
        "format": FORMAT,
        "product": PRODUCT,
        "version": version,
        "files": {n: {"size": s, "sha256": h} for n, (s, h) in sorted(files.items())},
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def parse_manifest(raw: bytes) -> Manifest:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise BundleError("the manifest is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("product") != PRODUCT:
        raise BundleError("not a Quantix-OS bundle manifest (format 1)")
    version, files = doc.get("version"), doc.get("files")
    if not isinstance(version, str) or not version or len(version) > 64:
        raise BundleError("the manifest has no valid version")
    if not isinstance(files, dict) or set(files) != set(FILES):
        raise BundleError(f"the manifest must list exactly {', '.join(FILES)}")
    for name, meta in files.items():
        if (
            not isinstance(meta, dict)
            or not isinstance(meta.get("size"), int)
            or meta["size"] < 0
            or not isinstance(meta.get("sha256"), str)
            or len(meta["sha256"]) != 64
        ):
            raise BundleError(f"the manifest's entry for {name} is malformed")
    return Manifest(version, files, raw)


def verify_manifest(raw: bytes, signature: bytes, public_key: bytes) -> Manifest:
    """The manifest, if ``signature`` is the update key's signature of ``raw``."""
    try:
        load_public(public_key).verify(signature, raw)
    except InvalidSignature:
        raise BundleError("the bundle is not signed by this image's update key") from None
    return parse_manifest(raw)


# -- writing ------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write(out: Path, version: str, sources: dict[str, Path], key: Ed25519PrivateKey) -> Manifest:
    """Write a signed bundle of ``sources`` (name -> file) to ``out``."""
    files = {n: (p.stat().st_size, sha256_file(p)) for n, p in sources.items()}
    raw = manifest_bytes(version, files)
    sig = key.sign(raw)
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("manifest.json", raw), ("manifest.sig", sig)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, _BytesReader(data))
        for name in FILES:
            info = tar.gettarinfo(str(sources[name]), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o644
            with open(sources[name], "rb") as fh:
                tar.addfile(info, fh)
    tmp.rename(out)
    return parse_manifest(raw)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


# -- reading ------------------------------------------------------------------------
def _members(fileobj: IO[bytes]) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    try:
        with tarfile.open(fileobj=fileobj, mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    raise BundleError(f"unexpected member {info.name!r} (not a regular file)")
                fh = tar.extractfile(info)
                assert fh is not None
                yield info, fh
    except tarfile.TarError as e:
        raise BundleError(f"not a bundle (tar): {e}") from None


def read(fileobj: IO[bytes], public_key: bytes, sinks: dict[str, IO[bytes]]) -> Manifest:
    """Check a bundle streamed from ``fileobj`` and copy each file into ``sinks[name]``
    as it goes. Raises BundleError unless the signature and every hash check out;
    the caller discards what it wrote to the sinks when it raises."""
    expect = iter(MEMBERS)
    raw = b""
    manifest: Manifest | None = None
    for info, fh in _members(fileobj):
        want = next(expect, None)
        if info.name != want:
            raise BundleError(f"unexpected member {info.name!r} (expected {want!r})")
        if want == "manifest.json":
            if info.size > MAX_MANIFEST:
                raise BundleError("the manifest is too large")
            raw = fh.read()
            continue
        if want == "manifest.sig":
            manifest = verify_manifest(raw, fh.read(1024), public_key)
            continue
        assert manifest is not None
        if info.size != manifest.size(want):
            raise BundleError(f"{want}: {info.size} bytes, the manifest says {manifest.size(want)}")
        h = hashlib.sha256()
        sink = sinks.get(want)
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            if sink is not None:
                sink.write(chunk)
        if h.hexdigest() != manifest.sha256(want):
            raise BundleError(f"{want} does not match the signed manifest")
    if next(expect, None) is not None or manifest is None:
        raise BundleError("the bundle is incomplete")
    return manifest


def verify(path: Path, public_key: bytes) -> Manifest:
    """Check a bundle file without keeping its contents."""
    with open(path, "rb") as f:
        return read(f, public_key, {})
