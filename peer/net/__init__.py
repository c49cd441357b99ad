"""QuantumNet: the cluster's virtual networks, projected into OVN (docs/network.md)."""
