"""Quantix-OS: the image builder (``python -m distro build``, ``make image``).

Debian 12 packages (mmdebstrap) + the product -> a read-only squashfs root, a
busybox initrd, an ESP with systemd-boot, and a GPT disk image with slots A/B and a
data partition, plus a signed update bundle. Everything big goes to ``.cache/os``
(downloads, the base root, wheels) and ``build/os`` (the outputs), both ignored.
"""
