"""Where a host lets pools live: the allowed roots of node.yaml, and the checks
every file operation on a pool makes (docs/security.md, "Files on a host").

No API input names a host path. A ``dir`` pool names a root (a key of
``pool_roots`` in node.yaml) and lives at ``<root>/<pool name>``; each host
derives that directory from its *own* node.yaml, so a record can never point a
host outside what the person at that host allowed. A pool type without a host
directory (NFS, iSCSI, RBD served by QEMU's own drivers) names no root at all:
``pool_dir`` refuses it, and nothing here is asked about it.

Every check resolves first (symlinks included), then compares: a ``..`` or a
symlink that leads out of the root is refused. ``open_inside`` opens with
``O_NOFOLLOW`` and checks the file the descriptor really names, so a symlink
swapped in between the check and the open cannot redirect it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The root every host has unless node.yaml names it otherwise: VM data.
DEFAULT_ROOT = "local"
# Pool types whose files are in a directory on the host.
DIR_TYPES = ("dir",)


class PathRefused(Exception):
    """A path is outside the allowed roots, a symlink, or not what was expected.
    ``code`` is the API's stable code."""

    def __init__(self, message: str, code: str = "path_outside_roots") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def within(root: Path, path: Path) -> Path:
    """``path`` resolved, if it lies inside ``root`` (resolved); else PathRefused."""
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and not real.is_relative_to(real_root):
        raise PathRefused(f"{path} is not inside the allowed root {root}")
    return real


def root_of(roots: Mapping[str, Path], name: str) -> Path:
    if name not in roots:
        known = ", ".join(sorted(roots)) or "none"
        raise PathRefused(
            f"this host has no pool root {name!r} (pool_roots in node.yaml: {known})",
            code="unknown_root",
        )
    return roots[name]


def pool_dir(roots: Mapping[str, Path], pool: Mapping[str, Any], name: str) -> Path:
    """The directory of pool ``name`` on this host: ``<its root>/<name>``, checked
    to stay inside the root (a symlinked pool directory that leads out is refused)."""
    kind = pool.get("type", "dir")
    if kind not in DIR_TYPES:
        raise PathRefused(f"pool {name} ({kind}) has no directory on the host", code="not_a_dir")
    if not name or "/" in name or name in (".", ".."):
        raise PathRefused(f"pool name {name!r} cannot name a directory")
    root = root_of(roots, str(pool.get("root") or DEFAULT_ROOT))
    return within(root, root / name)


def file_in_roots(roots: Mapping[str, Path], path: Path) -> Path:
    """``path`` resolved, if it is inside one of the roots; else PathRefused."""
    if not path.is_absolute():
        raise PathRefused(f"{path} is not an absolute path")
    for root in roots.values():
        try:
            return within(root, path)
        except PathRefused:
            continue
    raise PathRefused(f"{path} is not inside an allowed pool root of this host")


def open_inside(roots: Mapping[str, Path], path: Path) -> int:
    """A read-only descriptor of the regular file ``path``, which must lie inside
    one of the roots. The last component must not be a symlink (``O_NOFOLLOW``),
    and the file the descriptor names is checked after the open, so nothing can
    swap a link in between."""
    file_in_roots(roots, path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise PathRefused(f"cannot open {path}: {e.strerror}", code="unreadable") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathRefused(f"{path} is not a regular file", code="not_a_file")
        file_in_roots(roots, Path(os.readlink(f"/proc/self/fd/{fd}")))
    except BaseException:
        os.close(fd)
        raise
    return fd
