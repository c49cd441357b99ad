"""Whole-OS tests: they build the image (cached: seconds when nothing changed) and
boot it under QEMU TCG, so they are slow and run only in ``make test-all``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.osvm import IMAGE, image_available

REPO = Path(__file__).resolve().parents[2]


def _build(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "distro", "build", *args], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="session")
def os_image() -> Path:
    _build()
    assert image_available(), "no QEMU/OVMF to boot the image with"
    return IMAGE


@pytest.fixture(scope="session")
def update_bundles(os_image) -> dict[str, Path]:
    """A newer good bundle and a broken one (its peer never starts), signed with
    the same key; zstd level 3: they are built only to be installed once."""
    out = {}
    for name, extra in (("good", []), ("broken", ["--broken"])):
        d = REPO / "build/os" / f"test-{name}"
        _build(
            "--bundle-only", "--level", "3", "--version", f"9.0.0-{name}", "--out", str(d), *extra
        )
        summary = json.loads((d / "build.json").read_text())
        out[name] = d / next(n for n in summary["outputs"] if n.endswith(".bundle"))
    return out
