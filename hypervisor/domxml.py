"""Domain XML: a resolved ``DomainConfig``, the policy that fills it from a VM
spec (``design``), its XML (``to_xml``) and the reverse (``parse_domain``). Pure.

Nova's split: the config objects make no decisions; ``design`` holds the policy
(device names, boot order, which bus a CD-ROM sits on, KVM or TCG).
Devices we manage carry user aliases (``ua-disk-<id>``) so that hot-unplug and
cleanup find them by name, and the domain's ``<metadata>`` records the VM id,
the placement epoch it was started under and which volumes the VM owns.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace

from hypervisor.errors import InvalidSpec
from hypervisor.spec import DiskSpec, VmSpec

NS = "urn:quantix:vm:1"
AGENT_CHANNEL = "org.quantix.agent.0"
UUID_NS = uuid.UUID("5c6a3f0e-6c55-4d0e-9b8a-0b5e1f1d2a77")
# Sockets live in a per-VM directory: its whole path must fit in sun_path (108 bytes).
MAX_SOCKET_PATH = 107


def domain_uuid(vm_id: str) -> str:
    """A stable UUID per VM id, so a redefined domain keeps its identity."""
    return str(uuid.uuid5(UUID_NS, vm_id))


@dataclass(frozen=True)
class Firmware:
    """Where the UEFI firmware lives (Debian's ovmf package)."""

    code: str = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    vars_template: str = "/usr/share/OVMF/OVMF_VARS_4M.fd"


@dataclass(frozen=True)
class VmPaths:
    """A VM's files on this host: sockets, serial log, cloud-init seed, NVRAM."""

    dir: str

    @property
    def vnc_socket(self) -> str:
        return f"{self.dir}/vnc.sock"

    @property
    def agent_socket(self) -> str:
        return f"{self.dir}/agent.sock"

    @property
    def serial_log(self) -> str:
        return f"{self.dir}/serial.log"

    @property
    def cidata(self) -> str:
        return f"{self.dir}/cidata.iso"

    @property
    def nvram(self) -> str:
        return f"{self.dir}/nvram.fd"

    def check(self) -> None:
        longest = max(len(self.vnc_socket), len(self.agent_socket))
        if longest > MAX_SOCKET_PATH:
            raise InvalidSpec(
                f"the VM's socket paths under {self.dir} are {longest} bytes, over the "
                f"{MAX_SOCKET_PATH}-byte limit of unix sockets: use a shorter run directory"
            )


@dataclass(frozen=True)
class DiskDevice:
    alias: str  # without the "ua-" prefix, e.g. "disk-d0"
    path: str
    format: str  # qcow2 / raw
    target: str  # vda, sda, hdc
    bus: str
    device: str = "disk"  # disk / cdrom
    readonly: bool = False
    boot_order: int | None = None
    serial: str | None = None
    # The volume this disk is, when the VM owns it (deleted with the VM when asked).
    pool: str | None = None
    volume: str | None = None


@dataclass(frozen=True)
class NicDevice:
    mac: str
    bridge: str
    model: str = "virtio"
    boot_order: int | None = None
    # An OVS port: the tap (also the OVN logical port's name) the host plugs into
    # br-int before QEMU opens it; None plugs into the Linux bridge ``bridge``.
    tap: str | None = None


@dataclass(frozen=True)
class DomainConfig:
    name: str
    uuid: str
    vm_id: str
    title: str
    epoch: int
    domain_type: str  # kvm / qemu
    machine: str
    vcpus: int
    memory_mib: int
    paths: VmPaths
    firmware: str = "bios"
    loader: Firmware | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    disks: tuple[DiskDevice, ...] = ()
    nics: tuple[NicDevice, ...] = ()
    arch: str = "x86_64"
    labels: dict[str, str] = field(default_factory=dict)


def xml_root(text: str) -> ET.Element:
    """Parse XML that libvirt produced (or we did): trusted, so no defusedxml."""
    return ET.fromstring(text)  # noqa: S314 - libvirt's own output, not user input


# -- policy -------------------------------------------------------------------


def disk_target(bus: str, index: int) -> str:
    prefix = {"virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd"}[bus]
    return prefix + _letters(index)


def _letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def next_target(bus: str, used: set[str]) -> str:
    for i in range(702):
        t = disk_target(bus, i)
        if t not in used:
            return t
    raise InvalidSpec("no free disk name left on that bus")


def disk_device(disk: DiskSpec, path: str, target: str, boot_order: int | None) -> DiskDevice:
    return DiskDevice(
        alias=f"disk-{disk.id}",
        path=path,
        format="qcow2",
        target=target,
        bus=disk.bus,
        boot_order=boot_order,
        serial=disk.id,
        pool=disk.pool,
        volume=disk.volume,
    )


def design(
    spec: VmSpec,
    *,
    disk_paths: dict[str, str],
    paths: VmPaths,
    domain_type: str,
    epoch: int = 0,
    cdrom_path: str | None = None,
    cidata_path: str | None = None,
    firmware: Firmware | None = None,
) -> DomainConfig:
    """Fill a DomainConfig from a spec and what the host resolved (paths of disks)."""
    if domain_type not in ("kvm", "qemu", "test"):
        raise InvalidSpec(f"domain type must be kvm, qemu or test, got {domain_type!r}")
    direct = spec.kernel is not None
    order = {dev: i + 1 for i, dev in enumerate(spec.boot)} if not direct else {}
    disks: list[DiskDevice] = []
    used: dict[str, set[str]] = {}
    for i, d in enumerate(spec.disks):
        t = next_target(d.bus, used.setdefault(d.bus, set()))
        used[d.bus].add(t)
        disks.append(disk_device(d, disk_paths[d.id], t, order.get("hd") if i == 0 else None))
    cd_bus = "sata" if spec.machine == "q35" else "ide"
    cd_used = used.setdefault(cd_bus, set())
    if cd_bus == "ide":
        cd_used.update({"hda", "hdb"})  # the secondary IDE channel, as installers expect
    for alias, path, boot in (
        ("cdrom", cdrom_path, order.get("cdrom")),
        ("cidata", cidata_path, None),
    ):
        if path is None:
            continue
        t = next_target(cd_bus, cd_used)
        cd_used.add(t)
        disks.append(DiskDevice(alias, path, "raw", t, cd_bus, "cdrom", True, boot))
    nics = tuple(
        NicDevice(n.mac, n.bridge, n.model, order.get("network") if i == 0 else None, n.port)
        for i, n in enumerate(spec.nics)
    )
    return DomainConfig(
        name=spec.domain_name,
        uuid=domain_uuid(spec.vm_id),
        vm_id=spec.vm_id,
        title=spec.name,
        epoch=epoch,
        domain_type=domain_type,
        machine=spec.machine,
        vcpus=spec.vcpus,
        memory_mib=spec.memory_mib,
        paths=paths,
        firmware=spec.firmware,
        loader=(firmware or Firmware()) if spec.firmware == "uefi" else None,
        kernel=spec.kernel,
        initrd=spec.initrd,
        cmdline=spec.cmdline,
        disks=tuple(disks),
        nics=nics,
        labels=dict(spec.labels),
    )


def with_epoch(cfg: DomainConfig, epoch: int) -> DomainConfig:
    return replace(cfg, epoch=epoch)


# -- XML ----------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def disk_xml(d: DiskDevice) -> ET.Element:
    el = ET.Element("disk", {"type": "file", "device": d.device})
    _sub(el, "driver", name="qemu", type=d.format)
    _sub(el, "source", file=d.path)
    _sub(el, "target", dev=d.target, bus=d.bus)
    if d.readonly:
        _sub(el, "readonly")
    if d.serial:
        _sub(el, "serial", d.serial)
    if d.boot_order is not None:
        _sub(el, "boot", order=str(d.boot_order))
    _sub(el, "alias", name="ua-" + d.alias)
    return el


def metadata_element(
    vm_id: str,
    epoch: int,
    owned: list[tuple[str, str, str]],
    labels: dict[str, str],
    ns: str | None = NS,
) -> ET.Element:
    """Our ``<qx:vm>`` element: VM id, placement epoch, owned volumes, labels."""
    q = f"{{{ns}}}" if ns else ""
    vm = ET.Element(f"{q}vm", {"id": vm_id, "epoch": str(epoch)})
    for alias, pool, name in owned:
        ET.SubElement(vm, f"{q}volume", {"disk": alias, "pool": pool, "name": name})
    for k, v in sorted(labels.items()):
        ET.SubElement(vm, f"{q}label", {"key": k, "value": v})
    return vm


def metadata_xml(
    vm_id: str, epoch: int, owned: list[tuple[str, str, str]], labels: dict[str, str]
) -> str:
    """The metadata element for virDomainSetMetadata, which puts the root element
    into our namespace itself (and refuses a document that already declares it)."""
    return ET.tostring(metadata_element(vm_id, epoch, owned, labels, None), encoding="unicode")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def resize_xml(xml: str, vcpus: int | None, memory_mib: int | None) -> str:
    """The same domain XML with other vCPU and memory figures (offline resize)."""
    ET.register_namespace("qx", NS)
    root = xml_root(xml)
    if vcpus is not None:
        el = root.find("vcpu")
        if el is None:
            el = _sub(root, "vcpu")
        el.text = str(vcpus)
        el.attrib.pop("current", None)
    if memory_mib is not None:
        for tag in ("memory", "currentMemory"):
            el = root.find(tag)
            if el is None:
                el = _sub(root, tag)
            el.text = str(memory_mib)
            el.set("unit", "MiB")
    return ET.tostring(root, encoding="unicode")


def nic_xml(n: NicDevice) -> ET.Element:
    """A NIC: a Linux bridge port, or a tap the host has put into OVS's br-int
    (``managed='no'``: libvirt opens it as it is). On an OVS port QEMU's checksum
    and segmentation offloads are off: OVS's userspace datapath forwards what the
    guest left for a NIC to finish (partial checksums) and TCP would stall."""
    if n.tap is None:
        iface = ET.Element("interface", {"type": "bridge"})
        _sub(iface, "mac", address=n.mac)
        _sub(iface, "source", bridge=n.bridge)
        _sub(iface, "model", type=n.model)
    else:
        iface = ET.Element("interface", {"type": "ethernet"})
        _sub(iface, "mac", address=n.mac)
        _sub(iface, "target", dev=n.tap, managed="no")
        _sub(iface, "model", type=n.model)
        if n.model == "virtio":
            drv = _sub(iface, "driver", name="qemu")
            off = {k: "off" for k in ("csum", "tso4", "tso6", "ecn", "ufo")}
            _sub(drv, "host", gso="off", **off)
            _sub(drv, "guest", **off)
    if n.boot_order is not None:
        _sub(iface, "boot", order=str(n.boot_order))
    return iface


def disk_device_xml(d: DiskDevice) -> str:
    """One disk as a device XML document (for hot-plug)."""
    return ET.tostring(disk_xml(d), encoding="unicode")


def to_xml(cfg: DomainConfig) -> str:
    """The domain XML for libvirt's defineXML."""
    dom = ET.Element("domain", {"type": cfg.domain_type})
    _sub(dom, "name", cfg.name)
    _sub(dom, "uuid", cfg.uuid)
    _sub(dom, "title", cfg.title)
    meta = _sub(dom, "metadata")
    owned = [(d.alias, d.pool, d.volume) for d in cfg.disks if d.pool and d.volume]
    meta.append(metadata_element(cfg.vm_id, cfg.epoch, owned, cfg.labels))
    _sub(dom, "memory", str(cfg.memory_mib), unit="MiB")
    _sub(dom, "currentMemory", str(cfg.memory_mib), unit="MiB")
    _sub(dom, "vcpu", str(cfg.vcpus), placement="static")
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch=cfg.arch, machine=cfg.machine)
    if cfg.loader is not None:
        _sub(os_el, "loader", cfg.loader.code, readonly="yes", type="pflash")
        _sub(os_el, "nvram", cfg.paths.nvram, template=cfg.loader.vars_template)
    if cfg.kernel:
        _sub(os_el, "kernel", cfg.kernel)
        if cfg.initrd:
            _sub(os_el, "initrd", cfg.initrd)
        if cfg.cmdline:
            _sub(os_el, "cmdline", cfg.cmdline)
    feats = _sub(dom, "features")
    _sub(feats, "acpi")
    _sub(feats, "apic")
    if cfg.domain_type == "kvm":
        _sub(dom, "cpu", mode="host-passthrough", check="none", migratable="on")
    _sub(dom, "clock", offset="utc")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devs = _sub(dom, "devices")
    for d in cfg.disks:
        devs.append(disk_xml(d))
    if any(d.bus == "scsi" for d in cfg.disks):
        _sub(devs, "controller", type="scsi", model="virtio-scsi")
    for n in cfg.nics:
        devs.append(nic_xml(n))
    serial = _sub(devs, "serial", type="pty")
    _sub(serial, "log", file=cfg.paths.serial_log, append="on")
    _sub(serial, "target", port="0")
    console = _sub(devs, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    chan = _sub(devs, "channel", type="unix")
    _sub(chan, "source", mode="bind", path=cfg.paths.agent_socket)
    _sub(chan, "target", type="virtio", name=AGENT_CHANNEL)
    _sub(devs, "graphics", type="vnc", socket=cfg.paths.vnc_socket)
    video = _sub(devs, "video")
    _sub(video, "model", type="vga", vram="16384", heads="1")
    _sub(devs, "memballoon", model="none")
    ET.register_namespace("qx", NS)
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")


# -- reading back ---------------------------------------------------------------


@dataclass(frozen=True)
class ParsedDisk:
    alias: str | None
    path: str | None
    target: str
    device: str
    bus: str


@dataclass(frozen=True)
class ParsedDomain:
    """What we need from a domain's XML (ours or a stranger's)."""

    name: str
    vm_id: str | None
    epoch: int | None
    vcpus: int
    memory_mib: int
    disks: tuple[ParsedDisk, ...]
    owned_volumes: tuple[tuple[str, str, str], ...]  # (disk alias, pool, volume)
    labels: dict[str, str]
    vnc_socket: str | None
    agent_socket: str | None
    serial_log: str | None
    pty: str | None
    vifs: tuple[tuple[str, str], ...] = ()  # (tap, mac) of the NICs on OVS taps


def _mib(el: ET.Element | None) -> int:
    if el is None or not el.text:
        return 0
    unit = el.get("unit", "KiB")
    factor = {"b": 1 / 2**20, "bytes": 1 / 2**20, "KiB": 1 / 1024, "k": 1 / 1024, "MiB": 1}
    factor.update({"M": 1, "GiB": 1024, "G": 1024})
    return int(int(el.text) * factor.get(unit, 1 / 1024))


def parse_domain(xml: str) -> ParsedDomain:
    root = xml_root(xml)
    vm = root.find(f"metadata/{{{NS}}}vm")
    disks = []
    for d in root.iterfind("devices/disk"):
        src = d.find("source")
        tgt = d.find("target")
        alias = d.find("alias")
        aname = alias.get("name") if alias is not None else None
        disks.append(
            ParsedDisk(
                alias=aname[3:] if aname and aname.startswith("ua-") else aname,
                path=src.get("file") if src is not None else None,
                target=tgt.get("dev", "") if tgt is not None else "",
                device=d.get("device", "disk"),
                bus=tgt.get("bus", "") if tgt is not None else "",
            )
        )
    owned: list[tuple[str, str, str]] = []
    labels: dict[str, str] = {}
    if vm is not None:
        # Children set through virDomainSetMetadata come back without our namespace.
        for child in vm:
            if _local(child.tag) == "volume":
                owned.append((child.get("disk", ""), child.get("pool", ""), child.get("name", "")))
            elif _local(child.tag) == "label":
                labels[child.get("key", "")] = child.get("value", "")
    gfx = root.find("devices/graphics[@type='vnc']")
    vnc = gfx.get("socket") if gfx is not None else None
    if gfx is not None and vnc is None:
        listen = gfx.find("listen[@type='socket']")
        vnc = listen.get("socket") if listen is not None else None
    agent = None
    for ch in root.iterfind("devices/channel"):
        t = ch.find("target")
        if t is not None and t.get("name") == AGENT_CHANNEL:
            s = ch.find("source")
            agent = s.get("path") if s is not None else None
    serial_log = None
    pty = None
    ser = root.find("devices/serial")
    if ser is not None:
        log = ser.find("log")
        serial_log = log.get("file") if log is not None else None
        src = ser.find("source")
        pty = src.get("path") if src is not None else None
    vcpu = root.find("vcpu")
    epoch = vm.get("epoch") if vm is not None else None
    return ParsedDomain(
        name=root.findtext("name", ""),
        vm_id=vm.get("id") if vm is not None else None,
        epoch=int(epoch) if epoch is not None and epoch.lstrip("-").isdigit() else None,
        vcpus=int(vcpu.text) if vcpu is not None and vcpu.text else 0,
        memory_mib=_mib(root.find("memory")),
        disks=tuple(disks),
        owned_volumes=tuple(owned),
        labels=labels,
        vnc_socket=vnc,
        agent_socket=agent,
        serial_log=serial_log,
        pty=pty,
        vifs=tuple(_vifs(root)),
    )


def _vifs(root: ET.Element) -> list[tuple[str, str]]:
    out = []
    for iface in root.iterfind("devices/interface[@type='ethernet']"):
        tgt, mac = iface.find("target"), iface.find("mac")
        if tgt is not None and mac is not None and tgt.get("managed") == "no":
            out.append((tgt.get("dev", ""), mac.get("address", "")))
    return out


def canonical(xml: str) -> str:
    """A canonical form of an XML document, for comparing documents in tests."""
    return ET.canonicalize(xml, strip_text=True)
