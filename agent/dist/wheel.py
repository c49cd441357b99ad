"""The wheel: a zip with the dist-info pip expects (PEP 427), written directly."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from agent import __version__
from agent.dist.files import guest_modules

DIST = "quantix_agent"

METADATA = f"""Metadata-Version: 2.1
Name: quantix-agent
Version: {__version__}
Summary: Quantix guest agent (virtio-serial, runs on python3-minimal)
Requires-Python: >=3.9
"""

WHEEL = """Wheel-Version: 1.0
Generator: quantix agent.dist
Root-Is-Purelib: true
Tag: py3-none-any
"""

ENTRY_POINTS = """[console_scripts]
quantix-agent = agent.guest.main:cli
"""


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{DIST}-{__version__}-py3-none-any.whl"
    info = f"{DIST}-{__version__}.dist-info"
    files = [
        *guest_modules(),
        (f"{info}/METADATA", METADATA.encode()),
        (f"{info}/WHEEL", WHEEL.encode()),
        (f"{info}/entry_points.txt", ENTRY_POINTS.encode()),
        (f"{info}/top_level.txt", b"agent\n"),
    ]
    record = [_record_line(n, d) for n, d in files] + [f"{info}/RECORD,,"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
        z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return out
