"""The .deb: dpkg-deb over a staging tree (no debhelper needed)."""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

from agent import __version__
from agent.dist.files import (
    HOOKS_README,
    LAUNCHER,
    LIB_DIR,
    SERVICE,
    UDEV_RULE,
    guest_modules,
)

CONTROL = f"""Package: quantix-agent
Version: {__version__}
Architecture: all
Maintainer: Quantix <quantix@invalid>
Depends: python3-minimal | python3
Section: admin
Priority: optional
Description: Quantix guest agent
 Reports the guest's addresses and usage to its Quantix host and serves the
 host's requests (graceful shutdown, exec, files, passwords, SSH keys,
 quiesced snapshots, time sync) over the virtio-serial port
 org.quantix.agent.0. Runs on python3-minimal.
"""

POSTINST = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  udevadm control --reload-rules || true
  udevadm trigger --subsystem-match=virtio-ports || true
  if [ -e /dev/virtio-ports/org.quantix.agent.0 ]; then
    systemctl restart quantix-agent.service || true
  fi
fi
"""

PRERM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop quantix-agent.service || true
fi
"""


@functools.cache
def deb_bytes() -> bytes:
    """The .deb's bytes (built once per process), for cloud-init seeds."""
    with tempfile.TemporaryDirectory() as tmp:
        return build_deb(Path(tmp)).read_bytes()


def build_deb(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"quantix-agent_{__version__}_all.deb"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        files = {
            **{f"{LIB_DIR}/{rel}": (data, 0o644) for rel, data in guest_modules()},
            "usr/sbin/quantix-agent": (LAUNCHER.encode(), 0o755),
            "lib/systemd/system/quantix-agent.service": (SERVICE.encode(), 0o644),
            "lib/udev/rules.d/60-quantix-agent.rules": (UDEV_RULE.encode(), 0o644),
            "etc/quantix-agent/hooks.d/README": (HOOKS_README.encode(), 0o644),
            "DEBIAN/control": (CONTROL.encode(), 0o644),
            "DEBIAN/postinst": (POSTINST.encode(), 0o755),
            "DEBIAN/prerm": (PRERM.encode(), 0o755),
        }
        for rel, (data, mode) in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            p.chmod(mode)
        for d in root.rglob("*"):
            if d.is_dir():
                d.chmod(0o755)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)],
            check=True,
            capture_output=True,
        )
    return out
