"""Finding the virtio-serial port by its name, with or without udev."""

from __future__ import annotations

import os


def find_port(name: str, dev: str = "/dev", sys_root: str = "/sys") -> str | None:
    """``/dev/virtio-ports/NAME`` (udev's link) or ``/dev/vportNpM`` whose
    ``/sys/class/virtio-ports/vportNpM/name`` is NAME; None if absent."""
    link = os.path.join(dev, "virtio-ports", name)
    if os.path.exists(link):
        return link
    base = os.path.join(sys_root, "class", "virtio-ports")
    try:
        ports = sorted(os.listdir(base))
    except OSError:
        return None
    for port in ports:
        try:
            with open(os.path.join(base, port, "name")) as f:
                if f.read().strip() == name:
                    path = os.path.join(dev, port)
                    return path if os.path.exists(path) else None
        except OSError:
            continue
    return None
