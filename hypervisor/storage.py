"""Storage through libvirt's pool API: directory pools, volumes, the image library.

``PoolStorage`` works on any connection with a storage driver: ``qemu:///system``
(libvirtd), ``test:///default`` (in memory) and, under the embedded QEMU driver
(which has none), a private libvirtd started by ``hypervisor.storaged``.
Images are volumes too: an import streams the file or URL into a new volume
with ``virStorageVolUpload`` while hashing it, so nothing writes pool files by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from hypervisor import errors as E
from hypervisor.contract import ProgressCallback, UrlCheck, VolumeInfo
from hypervisor.domxml import xml_root
from hypervisor.libvirt_adapter import Connection, Volume
from hypervisor.spec import VOLUME_RE

CHUNK = 1 << 20
ISO_MAGIC_OFFSET = 0x8001


def pool_xml(name: str, path: str) -> str:
    return (
        f"<pool type='dir'><name>{escape(name)}</name>"
        f"<target><path>{escape(path)}</path>"
        "<permissions><mode>0711</mode></permissions></target></pool>"
    )


def volume_xml(name: str, size_bytes: int, fmt: str = "qcow2", backing: str | None = None) -> str:
    """A volume's XML; with ``backing`` a qcow2 overlay of that file. Pure."""
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(size_bytes)
    tgt = ET.SubElement(vol, "target")
    ET.SubElement(tgt, "format", type=fmt)
    if backing:
        bs = ET.SubElement(vol, "backingStore")
        ET.SubElement(bs, "path").text = backing
        ET.SubElement(bs, "format", type=sniff_format_path(backing))
    return ET.tostring(vol, encoding="unicode")


def sniff_format(head: bytes) -> str:
    """qcow2 / iso / raw from a file's first 0x8006 bytes (or fewer). Pure."""
    if head[:4] == b"QFI\xfb":
        return "qcow2"
    if head[ISO_MAGIC_OFFSET : ISO_MAGIC_OFFSET + 5] == b"CD001":
        return "iso"
    return "raw"


def sniff_format_path(path: str) -> str:
    try:
        with open(path, "rb") as f:
            fmt = sniff_format(f.read(ISO_MAGIC_OFFSET + 5))
    except OSError:
        return "qcow2"
    return "raw" if fmt == "iso" else fmt


def _vol_info(pool: str, v: Volume) -> VolumeInfo:
    root = xml_root(v.xml())
    info = v.info()
    fmt = root.find("target/format")
    backing = root.findtext("backingStore/path")
    return VolumeInfo(
        pool=pool,
        name=v.name,
        path=root.findtext("target/path") or v.path,
        capacity=info["capacity"],
        allocation=info["allocation"],
        format=fmt.get("type", "raw") if fmt is not None else "raw",
        backing=backing or None,
    )


class PoolStorage:
    """Pools and volumes on one libvirt connection that has a storage driver."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- pools ----------------------------------------------------------------
    def ensure_pool(self, name: str, path: str) -> dict[str, Any]:
        if not VOLUME_RE.match(name):
            raise E.InvalidSpec(f"pool name {name!r} is not valid")
        try:
            pool = self.conn.pool(name)
        except E.PoolNotFound:
            pool = self.conn.define_pool(pool_xml(name, path))
            try:
                pool.build()
            except E.HypervisorError:
                pool.undefine()
                raise
        have = xml_root(pool.xml()).findtext("target/path")
        if have and Path(have) != Path(path):
            raise E.InvalidSpec(f"pool {name} already exists at {have}, not {path}")
        if not pool.is_active():
            Path(path).mkdir(parents=True, exist_ok=True)
            pool.start()
        with contextlib.suppress(E.HypervisorError):
            pool.set_autostart()
        return self.pool_info(name)

    def pool_info(self, name: str) -> dict[str, Any]:
        pool = self.conn.pool(name)
        active = pool.is_active()
        info = pool.info() if active else {"capacity": 0, "allocation": 0, "available": 0}
        return {
            "name": name,
            "path": xml_root(pool.xml()).findtext("target/path"),
            "active": active,
            **info,
        }

    def pool_names(self) -> list[str]:
        return [p.name for p in self.conn.pools()]

    # -- volumes ----------------------------------------------------------------
    def _volume(self, pool: str, name: str) -> Volume:
        return self.conn.pool(pool).volume(name)

    def has_volume(self, pool: str, name: str) -> bool:
        # Listing names, not a lookup: a failed lookup is logged by libvirt as an error.
        return name in self.conn.pool(pool).volume_names()

    def volume(self, pool: str, name: str) -> VolumeInfo:
        return _vol_info(pool, self._volume(pool, name))

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        p = self.conn.pool(pool)
        with contextlib.suppress(E.HypervisorError):
            p.refresh()
        return [_vol_info(pool, v) for v in p.volumes()]

    def create_volume(
        self,
        pool: str,
        name: str,
        size_bytes: int | None,
        backing: str | None = None,
        fmt: str = "qcow2",
    ) -> VolumeInfo:
        if not VOLUME_RE.match(name):
            raise E.InvalidSpec(f"volume name {name!r} is not valid")
        if fmt not in ("qcow2", "raw"):
            raise E.InvalidSpec(f"volume format must be qcow2 or raw, got {fmt!r}")
        if backing is not None:
            if fmt != "qcow2":
                raise E.InvalidSpec("only a qcow2 volume can have a backing file")
            base = self._backing_capacity(backing)
            size_bytes = max(size_bytes or 0, base)
        if not size_bytes or size_bytes <= 0:
            raise E.InvalidSpec("a volume needs a positive size")
        p = self.conn.pool(pool)
        if self.has_volume(pool, name):
            raise E.VolumeExists(f"volume {name} already exists in pool {pool}")
        vol = p.create_volume(volume_xml(name, size_bytes, fmt, backing))
        return _vol_info(pool, vol)

    def _backing_capacity(self, path: str) -> int:
        """The base's virtual size: from the pool that holds it, else the file's size."""
        try:
            return self.conn.volume_by_path(path).info()["capacity"]
        except E.HypervisorError:
            pass
        if not Path(path).is_file():
            raise E.ImageNotFound(f"base image {path} does not exist")
        with open(path, "rb") as f:
            head = f.read(32)
        if head[:4] == b"QFI\xfb":  # qcow2: the virtual size is a big-endian u64 at 24
            return int.from_bytes(head[24:32], "big")
        return Path(path).stat().st_size

    def resize_volume(self, pool: str, name: str, size_bytes: int) -> VolumeInfo:
        vol = self._volume(pool, name)
        if size_bytes < vol.info()["capacity"]:
            raise E.InvalidSpec("shrinking a volume is refused (it would destroy data)")
        vol.resize(size_bytes)
        return _vol_info(pool, vol)

    def clone_volume(self, pool: str, source: str, name: str) -> VolumeInfo:
        src = self.volume(pool, source)
        return self.create_volume(pool, name, src.capacity, backing=src.path)

    def delete_volume(self, pool: str, name: str) -> None:
        self._volume(pool, name).delete()

    def delete_volume_quietly(self, pool: str, name: str) -> None:
        with contextlib.suppress(E.HypervisorError):
            self.delete_volume(pool, name)

    # -- images -----------------------------------------------------------------
    def import_image(
        self,
        pool: str,
        name: str,
        source: str,
        sha256: str | None = None,
        progress: ProgressCallback | None = None,
        url_check: UrlCheck | None = None,
    ) -> dict[str, Any]:
        """Stream a file or URL into a new raw volume (the pool then sees its format)."""
        size, chunks = open_source(source, url_check)
        head = bytearray()
        digest = hashlib.sha256()
        done = 0

        def counted() -> Iterator[bytes]:
            nonlocal done
            for c in chunks:
                if len(head) < ISO_MAGIC_OFFSET + 5:
                    head.extend(c[: ISO_MAGIC_OFFSET + 5 - len(head)])
                digest.update(c)
                done += len(c)
                if progress is not None:
                    progress(done, size)
                yield c

        if size is None:
            raise E.InvalidSpec(f"{source}: the size is unknown (no Content-Length)")
        vol_info = self.create_volume(pool, name, max(size, 1), fmt="raw")
        vol = self._volume(pool, name)
        try:
            vol.upload(self.conn, counted(), size)
            if done != size:
                raise E.OperationFailed(f"{source}: got {done} bytes, expected {size}")
            got = digest.hexdigest()
            if sha256 and got != sha256.lower():
                raise E.ChecksumMismatch(
                    f"{source}: sha256 is {got}, expected {sha256}", expected=sha256, actual=got
                )
            with contextlib.suppress(E.HypervisorError):
                self.conn.pool(pool).refresh()
        except BaseException:
            self.delete_volume_quietly(pool, name)
            raise
        fmt = sniff_format(bytes(head))
        return {
            "pool": pool,
            "name": name,
            "path": vol_info.path,
            "size_bytes": size,
            "sha256": got,
            "format": "raw" if fmt == "iso" else fmt,
            "kind": "iso" if fmt == "iso" else "disk",
        }


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL the caller's check allows."""

    def __init__(self, check: UrlCheck | None) -> None:
        self.check = check

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str):  # type: ignore[no-untyped-def]
        why = self.check(newurl) if self.check is not None else None
        if why is not None:
            raise E.InvalidSpec(f"refused redirect to {newurl}: {why}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_source(
    source: str, url_check: UrlCheck | None = None
) -> tuple[int | None, Iterator[bytes]]:
    """(size, chunks) of a local file or an http(s) URL. ``url_check`` vets the URL
    and every redirect before anything is fetched from it."""
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme in ("http", "https"):
        why = url_check(source) if url_check is not None else None
        if why is not None:
            raise E.InvalidSpec(f"refused to fetch {source}: {why}")
        opener = urllib.request.build_opener(_CheckedRedirects(url_check))
        try:
            resp = opener.open(source, timeout=30)
        except OSError as e:
            raise E.ImageNotFound(f"cannot fetch {source}: {e}") from None
        length = resp.headers.get("Content-Length")

        def read_url() -> Iterator[bytes]:
            with resp:
                while chunk := resp.read(CHUNK):
                    yield chunk

        return (int(length) if length else None), read_url()
    if parsed.scheme not in ("", "file"):
        raise E.InvalidSpec(f"unsupported image source scheme {parsed.scheme!r}")
    path = Path(parsed.path if parsed.scheme == "file" else source)
    if not path.is_file():
        raise E.ImageNotFound(f"image file {path} does not exist")

    def read_file() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    return path.stat().st_size, read_file()
