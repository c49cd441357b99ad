"""KVM or TCG from libvirt's report, the CPU flags and configuration."""

import pytest

from hypervisor.accel import choose_accel
from hypervisor.errors import InvalidSpec

VMX = "processor: 0\nflags\t\t: fpu vme vmx sse2\n"
NONE = "processor: 0\nflags\t\t: fpu vme sse2 hypervisor\n"


def test_kvm_needs_libvirt_the_device_and_the_cpu_flag():
    assert choose_accel(True, VMX, True).domain_type == "kvm"
    assert choose_accel(False, VMX, True).domain_type == "qemu"
    assert choose_accel(True, VMX, False).domain_type == "qemu"


def test_nested_host_without_vmx_gets_tcg_and_says_why():
    # What this machine shows: libvirt reports KVM, /dev/kvm opens, no vmx/svm.
    a = choose_accel(True, NONE, True)
    assert a.domain_type == "qemu" and not a.kvm
    assert "neither vmx nor svm" in a.reason
    assert a.to_dict()["libvirt_reports_kvm"] is True


def test_configuration_forces_either_way():
    assert choose_accel(True, VMX, True, "tcg").domain_type == "qemu"
    assert choose_accel(True, NONE, True, "kvm").domain_type == "kvm"
    with pytest.raises(InvalidSpec):
        choose_accel(False, VMX, True, "kvm")
    with pytest.raises(InvalidSpec):
        choose_accel(True, VMX, True, "xen")
