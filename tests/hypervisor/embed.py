"""One embedded QEMU driver per test process, shared by every test that needs one.

Libvirt allows one embedded root per process, so the driver is a per-process
singleton; tests keep apart by VM id. At exit every domain is destroyed, the
private storage libvirtd is stopped and the root removed (nothing leaks).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path

from hypervisor.errors import HypervisorError
from hypervisor.libvirt_driver import LibvirtDriver
from testkit.guest import TestGuest, ensure_test_guest
from tests.util import wait_for

_driver: LibvirtDriver | None = None
_root: Path | None = None


def process_driver() -> LibvirtDriver:
    global _driver, _root
    if _driver is None:
        # Short: unix socket paths under it must stay within 108 bytes.
        _root = Path(tempfile.mkdtemp(prefix="qx", dir="/tmp"))
        _driver = LibvirtDriver(
            f"qemu:///embed?root={_root}",
            pools={"local": str(_root / "pool"), "shared": str(_root / "shared")},
        )
        atexit.register(_cleanup)
    return _driver


def _cleanup() -> None:
    if _driver is None:
        return
    with contextlib.suppress(HypervisorError):
        for d in _driver.list_domains():
            with contextlib.suppress(HypervisorError):
                _driver.delete(d.vm_id, remove_disks=True)
    _driver.close()
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)


def guest() -> TestGuest:
    return ensure_test_guest()


def new_id(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def guest_spec(**extra: object) -> dict[str, object]:
    g = guest()
    return {"vcpus": 1, "memory_mib": g.memory_mib, **g.spec_fields(), **extra}


def wait_serial(drv: LibvirtDriver, vm_id: str, text: str, timeout: float = 120.0) -> str:
    """Wait until ``text`` appears in the VM's serial log; return the log."""

    def log() -> str:
        return str(drv.read_serial_log(vm_id, 0, 1 << 20)["data"])

    def seen() -> str:
        data = log()
        return data if text in data else ""

    return wait_for(
        seen,
        timeout,
        f"{text!r} in the serial log of {vm_id}",
        explain=lambda: "\n" + log(),
    )


def wait_state(drv: LibvirtDriver, vm_id: str, state: str, timeout: float = 30.0) -> None:
    wait_for(
        lambda: drv.domain_info(vm_id).state == state,
        timeout,
        f"{vm_id} {state}",
        0.05,
        lambda: drv.domain_info(vm_id),
    )
