"""Debian's python3-minimal and the guest agent, for the test guest's initramfs.

The interpreter (``/usr/bin/python3.X`` from python3.X-minimal), the shared
libraries it links (from ``ldd``) and exactly the files dpkg lists for
libpython3.X-minimal: what a Debian guest with only python3-minimal has. Each
module is also compiled to an unchecked-hash ``.pyc`` (the archive's mtimes are
0, so timestamp checks would make the guest recompile everything at boot).
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from agent.dist.files import AGENT_ROOT
from agent.dist.files import GUEST_MODULES as AGENT_FILES
from hypervisor.errors import HypervisorError

DPKG_INFO = Path("/var/lib/dpkg/info")


class GuestPythonUnavailable(HypervisorError):
    """Debian's python3-minimal is not installed here."""

    code = "guest_python_unavailable"


class Archive(Protocol):
    def add_dir(self, name: str) -> None: ...
    def add_parents(self, name: str) -> None: ...
    def add_file(self, name: str, data: bytes, perm: int) -> None: ...
    def add_symlink(self, name: str, target: str) -> None: ...


def minimal_version() -> str:
    """``3.11``: the version of the installed python3.X-minimal."""
    found = sorted(DPKG_INFO.glob("libpython3.*-minimal*.list"))
    if not found:
        raise GuestPythonUnavailable("libpython3.X-minimal is not installed")
    return found[-1].name.removeprefix("libpython").split("-")[0]


def minimal_files() -> list[Path]:
    ver = minimal_version()
    lists = list(DPKG_INFO.glob(f"libpython{ver}-minimal*.list"))
    out = []
    for lst in lists:
        for line in lst.read_text().splitlines():
            p = Path(line)
            if p.is_file() and not p.is_symlink() and "/share/" not in line:
                out.append(p)
    return out


def shared_libraries(binary: Path) -> list[Path]:
    res = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
    libs = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.append(Path(parts[2]))
        elif parts and parts[0].startswith("/"):
            libs.append(Path(parts[0]))  # the dynamic loader
    return libs


def _pyc(source: bytes, name: str) -> bytes | None:
    """An unchecked-hash .pyc of ``source`` for this interpreter's bytecode, or
    None when this interpreter is another minor version than the guest's."""
    from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]

    try:
        code = compile(source, name, "exec", dont_inherit=True)
    except SyntaxError:
        return None
    data: bytes = _code_to_hash_pyc(code, importlib.util.source_hash(source), False)
    return data


def _add_module(w: Archive, dst: str, source: bytes, compile_pyc: bool) -> None:
    w.add_parents(dst)
    w.add_file(dst, source, 0o644)
    if compile_pyc and dst.endswith(".py"):
        pyc = _pyc(source, "/" + dst)
        if pyc is not None:
            stem = dst.rsplit("/", 1)
            cache = f"{stem[0]}/__pycache__/{stem[1][:-3]}.{sys.implementation.cache_tag}.pyc"
            w.add_parents(cache)
            w.add_file(cache, pyc, 0o644)


def add_python_minimal(w: Archive) -> None:
    ver = minimal_version()
    binary = Path(f"/usr/bin/python{ver}")
    if not binary.exists():
        raise GuestPythonUnavailable(f"{binary} is missing: install python{ver}-minimal")
    same = f"{sys.version_info[0]}.{sys.version_info[1]}" == ver
    w.add_parents(f"usr/bin/python{ver}")
    w.add_file(f"usr/bin/python{ver}", binary.read_bytes(), 0o755)
    w.add_symlink("usr/bin/python3", f"python{ver}")
    for lib in shared_libraries(binary):
        real = lib.resolve()
        dst = str(lib).lstrip("/")
        w.add_parents(dst)
        w.add_file(dst, real.read_bytes(), 0o755)
    for f in minimal_files():
        _add_module(w, str(f).lstrip("/"), f.read_bytes(), same)


def add_agent(w: Archive, where: str) -> None:
    same = minimal_version() == f"{sys.version_info[0]}.{sys.version_info[1]}"
    for rel in AGENT_FILES:
        _add_module(w, f"{where}/agent/{rel}", (AGENT_ROOT / rel).read_bytes(), same)


def fingerprint() -> str:
    """Changes when the agent's files or the guest's Python change (cache key)."""
    h = hashlib.sha256(minimal_version().encode())
    h.update(str(Path(f"/usr/bin/python{minimal_version()}").stat().st_size).encode())
    for rel in AGENT_FILES:
        h.update((AGENT_ROOT / rel).read_bytes())
    return h.hexdigest()[:16]
