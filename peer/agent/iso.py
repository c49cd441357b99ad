"""The "agent" ISO of the image library, like the VMware Tools ISO: the .deb,
the wheel and a script that installs whichever fits, to attach as a CD-ROM."""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent import __version__
from agent.dist.deb import deb_bytes
from agent.dist.wheel import build_wheel
from hypervisor.cloudinit import build_iso

ISO_NAME = f"quantix-agent-{__version__}.iso"
LABEL = "QUANTIX_AGENT"

INSTALL = f"""#!/bin/sh
# Install the Quantix guest agent {__version__} from this CD-ROM (as root):
#   mount /dev/sr0 /mnt && sh /mnt/install.sh
set -e
here=$(dirname "$0")
if command -v dpkg >/dev/null; then
  command -v python3 >/dev/null || apt-get install -y python3-minimal
  dpkg -i "$here/quantix-agent_{__version__}_all.deb"
else
  python3 -m pip install "$here"/quantix_agent-{__version__}-py3-none-any.whl
  echo "installed; start it with: quantix-agent (e.g. from a service unit)"
fi
"""

README = f"""Quantix guest agent {__version__}

Debian/Ubuntu: sh install.sh (or dpkg -i the .deb). It needs python3-minimal
and starts by itself when the VM's virtio-serial port org.quantix.agent.0
appears (a udev rule and a systemd unit).

Other Linux with Python 3.9+: pip install the wheel, then run quantix-agent
as a service.
"""


def agent_iso() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        whl = build_wheel(Path(tmp))
        files = {
            f"quantix-agent_{__version__}_all.deb": deb_bytes(),
            whl.name: whl.read_bytes(),
            "install.sh": INSTALL.encode(),
            "README.txt": README.encode(),
        }
    return build_iso(LABEL, files)
