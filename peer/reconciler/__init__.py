"""The reconciler: local reality (libvirt domains) made to match the cluster state."""

from peer.reconciler.reconciler import Reconciler

__all__ = ["Reconciler"]
