"""High availability: every peer's lease and self-fence (``LeaseRenewer``,
``Watchdog``), and the leader loop (``HAManager``) that restarts the VMs of fenced
hosts, drains hosts in maintenance and runs the scheduler. See docs/ha.md."""

from peer.ha.lease import LeaseRenewer
from peer.ha.manager import HAManager
from peer.ha.watchdog import Watchdog

__all__ = ["HAManager", "LeaseRenewer", "Watchdog"]
