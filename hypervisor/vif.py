"""VM NICs on OVS: the tap QEMU opens, put into br-int as an OVN logical port.

The tap's name is also the logical port's name (``iface-id``), so a domain's
XML (its ``<target dev>`` and ``<mac>``) is all a host needs to plug a NIC: on
a start, a live migration's incoming side or an HA restart alike.
"""

from __future__ import annotations

from hypervisor import links, ovnhost
from hypervisor.ovnhost import OvnPaths


class OvsVifs:
    """Plugs and unplugs this host's VM taps (blocking; call from a thread)."""

    def __init__(self, paths: OvnPaths) -> None:
        self.paths = paths

    def plug(self, tap: str, mac: str) -> None:
        links.ensure_tap(tap)
        links.checksum_offload_off(tap)
        ovnhost.plug_vif(self.paths, tap, tap, mac)

    def unplug(self, tap: str) -> None:
        ovnhost.unplug_vif(self.paths, tap)
        links.delete(tap)
