"""Packaging the guest agent (runs on the build host, not in the guest): a
``.deb`` (dpkg-deb), a wheel (written here, it is a zip), the files both carry.
``python -m agent.dist OUTDIR`` builds both; the ISO that holds them is
``peer.agent.iso`` (an ISO needs the pycdlib adapter in hypervisor/)."""
