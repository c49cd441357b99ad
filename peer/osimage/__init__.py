"""Quantix-OS on the host: the disk layout, the boot entries of the A/B slots,
update bundles, the installer and the update agent.

The pure parts (``layout``, ``bootentry``, ``bundle``) are shared with the image
builder in ``distro/``; the parts that touch disks run only on a Quantix-OS host.
"""
