"""What a guest gets: the agent's modules and the system files around them."""

from __future__ import annotations

from pathlib import Path

from agent import __version__

AGENT_ROOT = Path(__file__).resolve().parent.parent
# The guest side of the agent, relative to agent/: what the .deb, the wheel and
# the test guest carry (nothing of the host's side).
GUEST_MODULES = (
    "__init__.py",
    "wire.py",
    "frames.py",
    "protocol.py",
    "guest/__init__.py",
    "guest/__main__.py",
    "guest/main.py",
    "guest/ops.py",
    "guest/port.py",
    "guest/sysinfo.py",
)
LIB_DIR = "usr/lib/quantix-agent"

LAUNCHER = f"""#!/bin/sh
# The Quantix guest agent {__version__} (docs/agent.md).
exec python3 -I -c 'import sys; sys.path.insert(0, "/{LIB_DIR}"); \\
from agent.guest.main import main; sys.exit(main(sys.argv[1:]))' "$@"
"""

# Started when the port appears (udev tags it for systemd), stopped when it goes.
SERVICE = """[Unit]
Description=Quantix guest agent
Documentation=https://quantix.invalid/docs/agent
BindsTo=dev-virtio\\x2dports-org.quantix.agent.0.device
After=dev-virtio\\x2dports-org.quantix.agent.0.device

[Service]
ExecStart=/usr/sbin/quantix-agent
Restart=always
RestartSec=2

[Install]
WantedBy=dev-virtio\\x2dports-org.quantix.agent.0.device
"""

UDEV_RULE = (
    'SUBSYSTEM=="virtio-ports", ATTR{name}=="org.quantix.agent.0", '
    'SYMLINK+="virtio-ports/org.quantix.agent.0", TAG+="systemd", '
    'ENV{SYSTEMD_WANTS}="quantix-agent.service"\n'
)

HOOKS_README = """Executables here run, in name order, with the argument "freeze" before a
quiesced snapshot freezes the file systems, and in reverse order with "thaw"
after they are thawed (like VMware Tools' pre-freeze/post-thaw scripts).
A hook has 30 seconds. Flush a database here, for example.
"""


def guest_modules() -> list[tuple[str, bytes]]:
    """(path under the package dir, content) of each guest module."""
    return [(f"agent/{rel}", (AGENT_ROOT / rel).read_bytes()) for rel in GUEST_MODULES]
