"""KVM or TCG: decided from what libvirt reports and what the CPU shows. Pure.

Libvirt's domain capabilities say whether QEMU *can open* KVM, not whether KVM
can run a guest: on a nested host whose CPU hides VMX/SVM, ``/dev/kvm`` exists,
libvirt reports ``kvm`` as supported, and a KVM guest hangs right after the
BIOS (measured on the development machine). So KVM is chosen only when libvirt
reports it *and* the CPU advertises ``vmx`` or ``svm``; the choice can be forced
(``QUANTIX_ACCEL=kvm|tcg`` or the driver's ``accel`` argument) and is reported
with its reason, never assumed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hypervisor.errors import InvalidSpec

ACCEL_CHOICES = ("auto", "kvm", "tcg")


@dataclass(frozen=True)
class Accel:
    domain_type: str  # "kvm" or "qemu" (TCG)
    kvm: bool
    reason: str
    libvirt_kvm: bool
    cpu_virt_flag: bool

    @property
    def name(self) -> str:
        return "kvm" if self.kvm else "tcg"

    def to_dict(self) -> dict[str, object]:
        return {
            "accel": self.name,
            "domain_type": self.domain_type,
            "kvm": self.kvm,
            "reason": self.reason,
            "libvirt_reports_kvm": self.libvirt_kvm,
            "cpu_virt_flag": self.cpu_virt_flag,
        }


def cpu_has_virt(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's flags include vmx (Intel) or svm (AMD)."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"vmx", "svm"})
    return False


def choose_accel(
    libvirt_kvm: bool, cpuinfo: str, dev_kvm_usable: bool, forced: str | None = None
) -> Accel:
    """Decide KVM or TCG from the facts given (no I/O)."""
    virt = cpu_has_virt(cpuinfo)
    forced = (forced or "auto").lower()
    if forced not in ACCEL_CHOICES:
        raise InvalidSpec(f"accel must be one of {', '.join(ACCEL_CHOICES)}, got {forced!r}")
    if forced == "tcg":
        return Accel("qemu", False, "TCG forced by configuration", libvirt_kvm, virt)
    if forced == "kvm":
        if not libvirt_kvm:
            raise InvalidSpec("KVM was forced but libvirt reports no KVM support on this host")
        return Accel("kvm", True, "KVM forced by configuration", libvirt_kvm, virt)
    if not libvirt_kvm:
        return Accel("qemu", False, "libvirt reports no KVM support: using TCG", False, virt)
    if not dev_kvm_usable:
        return Accel("qemu", False, "/dev/kvm cannot be opened: using TCG", True, virt)
    if not virt:
        return Accel(
            "qemu",
            False,
            "libvirt reports KVM, but the CPU advertises neither vmx nor svm (nested "
            "virtualization without hardware support; KVM guests hang here): using TCG",
            True,
            False,
        )
    return Accel(
        "kvm", True, "libvirt reports KVM and the CPU has hardware virtualization", True, True
    )


def host_facts() -> tuple[str, bool]:
    """(/proc/cpuinfo text, whether /dev/kvm opens read-write)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        os.close(fd)
        usable = True
    except OSError:
        usable = False
    return cpuinfo, usable


def forced_from_env() -> str | None:
    return os.environ.get("QUANTIX_ACCEL") or None
