"""The test guest in a lab, through the API: its kernel and initrd as images of a
shared pool, VMs that boot it, and what its serial console says (testkit.guest)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from testkit.guest import TEST_GUEST_CMDLINE, TICK_PREFIX, ensure_test_guest
from testkit.localapi import LocalApi

TICK_RE = re.compile(rf"{TICK_PREFIX} (\d+)")


def register_test_guest(via: LocalApi, pool_name: str = "lab") -> dict[str, str]:
    """A shared pool (under the lab's pool root ``shared``, which every lab host
    sees) holding the test guest's kernel and initrd as images, uploaded through
    the API; returns the VM fields that boot it (``kernel``, ``initrd``: image
    ids; ``cmdline``), the images' names (``kernel_name``, ``initrd_name``: what
    a person picks) and the pool's name."""
    status, body = via.post("/pools", {"name": pool_name, "root": "shared", "shared": True})
    assert status == 201, body
    guest = ensure_test_guest()
    names = {}
    for kind, src in (("kernel", guest.kernel), ("initrd", guest.initrd)):
        name = f"test-guest-{kind}"
        image = {"name": name, "kind": kind, "pool": pool_name}
        status, body = via.post("/images", {**image, "size_bytes": src.stat().st_size})
        assert status == 201 and body["state"] == "pending", body
        status, body = via.put_file(f"/images/{body['id']}/content", src)
        assert status == 200 and body["state"] == "ready", body
        names[kind] = body["id"]
        names[f"{kind}_name"] = name
    # console=tty0 first: the kernel also writes to the VGA screen, and the last
    # console (the serial port) stays /dev/console, where the markers go.
    return {**names, "pool": pool_name, "cmdline": f"console=tty0 {TEST_GUEST_CMDLINE}"}


def guest_vm(name: str, boot: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A create body for a VM that boots the test guest (``boot`` from above)."""
    fields = {k: boot[k] for k in ("kernel", "initrd", "cmdline")}
    return {"name": name, "vcpus": 1, "memory_mib": 160, **fields, **extra}


def serial(apis: Mapping[str, LocalApi], vm_id: str) -> str:
    """The serial log on the VM's current host, asked through that host's own
    socket (``apis``: node id -> its API; a local caller's credentials are not
    forwarded to another peer)."""
    any_api = next(iter(apis.values()))
    node = (any_api.get(f"/vms/{vm_id}").get("status") or {}).get("node")
    return str(apis[str(node)].get(f"/vms/{vm_id}/serial?offset=0&limit=1048576")["data"])


def ticks(log: str) -> list[int]:
    """The guest's ``QUANTIX-TICK n`` counts, in order."""
    return [int(n) for n in TICK_RE.findall(log)]
