"""Local drivers: libvirt/QEMU domains, storage pools, cloud-init, host telemetry.

Knows nothing of Raft or the peer (docs/hypervisor.md).
"""
