"""Remove whatever faults a crashed harness left in a lab: the nftables table,
netem qdiscs, downed links, frozen processes, clock offsets, fill files, tmpfs."""

from __future__ import annotations

import contextlib
import signal
import subprocess

from chaos.faults.clock import set_offset
from chaos.faults.disk import FILL, unmount
from chaos.faults.net import IFACE, remove_table
from chaos.faults.process import signal_netns
from chaos.lab import Lab


def sweep(lab: Lab, unmount_data: bool = False) -> None:
    """Heal every fault kind on every host. ``unmount_data``: also unmount the data
    tmpfs (only once the peers are gone, e.g. right before ``lab.down``)."""
    if not lab.exists():
        return
    for h in lab.hosts():
        remove_table(h.netns)
        subprocess.run(
            ["tc", "-n", h.netns, "qdisc", "del", "dev", IFACE, "root"],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            ["ip", "-n", h.netns, "link", "set", IFACE, "up"], capture_output=True, check=False
        )
        signal_netns(h.netns, signal.SIGCONT)
        if h.dir.exists():
            set_offset(lab, h.name, 0)
        with contextlib.suppress(OSError):
            (h.data_dir / FILL).unlink()
        if unmount_data:
            unmount(h.data_dir)
