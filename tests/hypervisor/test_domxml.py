"""Domain XML from a VM spec: compared as documents, no libvirt involved."""

import xml.etree.ElementTree as ET

from hypervisor.domxml import (
    VmPaths,
    canonical,
    design,
    disk_device,
    disk_device_xml,
    metadata_xml,
    parse_domain,
    resize_xml,
    to_xml,
)
from hypervisor.spec import parse_spec

PATHS = VmPaths("/run/q/vm-1")

EXPECTED_UEFI_Q35_KVM = """
<domain xmlns:qx="urn:quantix:vm:1" type="kvm">
  <name>qx-vm-1</name>
  <uuid>379778e3-8ba2-58e3-9875-d89c269e12cb</uuid>
  <title>web-1</title>
  <metadata>
    <qx:vm id="vm-1" epoch="3">
      <qx:volume disk="disk-d0" pool="local" name="vm-1-d0.qcow2"/>
      <qx:volume disk="disk-d1" pool="local" name="vm-1-d1.qcow2"/>
      <qx:label key="team" value="web"/>
    </qx:vm>
  </metadata>
  <memory unit="MiB">1024</memory>
  <currentMemory unit="MiB">1024</currentMemory>
  <vcpu placement="static">2</vcpu>
  <os>
    <type arch="x86_64" machine="q35">hvm</type>
    <loader readonly="yes" type="pflash">/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template="/usr/share/OVMF/OVMF_VARS_4M.fd">/run/q/vm-1/nvram.fd</nvram>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode="host-passthrough" check="none" migratable="on"/>
  <clock offset="utc"/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/p/vm-1-d0.qcow2"/>
      <target dev="vda" bus="virtio"/>
      <serial>d0</serial>
      <boot order="2"/>
      <alias name="ua-disk-d0"/>
    </disk>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/p/vm-1-d1.qcow2"/>
      <target dev="sda" bus="sata"/>
      <serial>d1</serial>
      <alias name="ua-disk-d1"/>
    </disk>
    <disk type="file" device="cdrom">
      <driver name="qemu" type="raw"/>
      <source file="/img/debian.iso"/>
      <target dev="sdb" bus="sata"/>
      <readonly/>
      <boot order="1"/>
      <alias name="ua-cdrom"/>
    </disk>
    <disk type="file" device="cdrom">
      <driver name="qemu" type="raw"/>
      <source file="/run/q/vm-1/cidata.iso"/>
      <target dev="sdc" bus="sata"/>
      <readonly/>
      <alias name="ua-cidata"/>
    </disk>
    <interface type="bridge">
      <mac address="52:54:00:12:34:56"/>
      <source bridge="br0"/>
      <model type="virtio"/>
      <boot order="3"/>
    </interface>
    <serial type="pty">
      <log file="/run/q/vm-1/serial.log" append="on"/>
      <target port="0"/>
    </serial>
    <console type="pty"><target type="serial" port="0"/></console>
    <channel type="unix">
      <source mode="bind" path="/run/q/vm-1/agent.sock"/>
      <target type="virtio" name="org.quantix.agent.0"/>
    </channel>
    <graphics type="vnc" socket="/run/q/vm-1/vnc.sock"/>
    <video><model type="vga" vram="16384" heads="1"/></video>
    <memballoon model="none"/>
  </devices>
</domain>
"""


def full_spec():
    return parse_spec(
        "vm-1",
        {
            "name": "web-1",
            "vcpus": 2,
            "memory_mib": 1024,
            "firmware": "uefi",
            "machine": "q35",
            "disks": [{"id": "d0", "size_gib": 10}, {"id": "d1", "size_gib": 1, "bus": "sata"}],
            "nics": [{"network": "br0", "mac": "52:54:00:12:34:56"}],
            "boot": ["cdrom", "hd", "network"],
            "labels": {"team": "web"},
        },
    )


def full_config():
    return design(
        full_spec(),
        disk_paths={"d0": "/p/vm-1-d0.qcow2", "d1": "/p/vm-1-d1.qcow2"},
        paths=PATHS,
        domain_type="kvm",
        epoch=3,
        cdrom_path="/img/debian.iso",
        cidata_path="/run/q/vm-1/cidata.iso",
    )


def test_uefi_q35_kvm_vm_with_disks_cdrom_seed_and_nic():
    assert canonical(to_xml(full_config())) == canonical(EXPECTED_UEFI_Q35_KVM)


def test_bios_tcg_direct_kernel_boot_has_no_boot_order_and_ide_cdrom():
    spec = parse_spec(
        "t1",
        {
            "memory_mib": 160,
            "kernel": "/k/vmlinuz",
            "initrd": "/k/initrd",
            "cmdline": "console=ttyS0",
            "disks": [{"id": "d0", "size_gib": 1}],
            "cloud_init": {"hostname": "t1"},
        },
    )
    cfg = design(
        spec,
        disk_paths={"d0": "/p/d0"},
        paths=VmPaths("/r/t1"),
        domain_type="qemu",
        cidata_path="/r/t1/cidata.iso",
    )
    root = ET.fromstring(to_xml(cfg))
    assert root.get("type") == "qemu"
    assert root.find("cpu") is None  # TCG: QEMU's default CPU model
    assert root.findtext("os/kernel") == "/k/vmlinuz"
    assert root.findtext("os/initrd") == "/k/initrd"
    assert root.findtext("os/cmdline") == "console=ttyS0"
    assert root.find("os/loader") is None
    assert root.findall(".//boot") == []
    cd = root.find("devices/disk[@device='cdrom']/target")
    assert cd is not None and (cd.get("dev"), cd.get("bus")) == ("hdc", "ide")


def test_parse_domain_reads_back_what_we_need():
    p = parse_domain(to_xml(full_config()))
    assert (p.vm_id, p.epoch, p.vcpus, p.memory_mib) == ("vm-1", 3, 2, 1024)
    assert p.vnc_socket == "/run/q/vm-1/vnc.sock"
    assert p.agent_socket == "/run/q/vm-1/agent.sock"
    assert p.serial_log == "/run/q/vm-1/serial.log"
    assert [d.alias for d in p.disks] == ["disk-d0", "disk-d1", "cdrom", "cidata"]
    assert p.owned_volumes == (
        ("disk-d0", "local", "vm-1-d0.qcow2"),
        ("disk-d1", "local", "vm-1-d1.qcow2"),
    )
    assert p.labels == {"team": "web"}


def test_metadata_set_by_libvirt_without_our_namespace_on_children_still_parses():
    # virDomainSetMetadata namespaces the root element only; children come back bare.
    meta = metadata_xml("vm-1", 7, [("disk-d0", "local", "v0")], {})
    assert "xmlns" not in meta
    xml = to_xml(full_config()).replace(
        to_xml(full_config())[
            to_xml(full_config()).index("<qx:vm") : to_xml(full_config()).index("</qx:vm>") + 8
        ],
        '<qx:vm id="vm-1" epoch="7"><volume disk="disk-d0" pool="local" name="v0"/></qx:vm>',
    )
    p = parse_domain(xml)
    assert p.epoch == 7 and p.owned_volumes == (("disk-d0", "local", "v0"),)


def test_offline_resize_changes_vcpus_and_memory_only():
    xml = to_xml(full_config())
    out = parse_domain(resize_xml(xml, 4, 2048))
    assert (out.vcpus, out.memory_mib, out.vm_id) == (4, 2048, "vm-1")
    assert parse_domain(resize_xml(xml, None, 512)).vcpus == 2


def test_hotplug_disk_document():
    d = full_spec().disks[0]
    xml = disk_device_xml(disk_device(d, "/p/x.qcow2", "vdc", None))
    expected = (
        '<disk type="file" device="disk"><driver name="qemu" type="qcow2"/>'
        '<source file="/p/x.qcow2"/><target dev="vdc" bus="virtio"/><serial>d0</serial>'
        '<alias name="ua-disk-d0"/></disk>'
    )
    assert canonical(xml) == canonical(expected)
