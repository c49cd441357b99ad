"""The VM spec the driver works from: parsed and checked from plain data. Pure.

The shape is the ``vms`` record of docs/state.md, with references already
resolved by the caller (the reconciler) into what this host understands:

- a disk's ``volume`` is a volume *name* in ``pool`` (default ``<vm>-<disk>.qcow2``)
  and its ``image`` is the *path* of the base image it is cloned from (or None);
- a NIC's ``bridge`` is the Linux bridge it plugs into (default: its ``network``);
- a CD-ROM is ``{"path": ...}`` or ``{"pool": ..., "volume": ...}``;
- ``kernel``/``initrd``/``cmdline`` (optional) boot a kernel directly (test guests).

Parsing checks syntax and ranges (Ganeti's split: cheap checks here, the host
checks what only it can know, such as whether a file exists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hypervisor.errors import InvalidSpec

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DISK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
PORT_RE = re.compile(r"^qxt[0-9a-f]{11}$")
VOLUME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")

MAX_VCPUS = 255
MIN_MEMORY_MIB = 32
MAX_MEMORY_MIB = 4 * 1024 * 1024
MAX_DISKS = 20
MAX_NICS = 8
FIRMWARES = ("bios", "uefi")
MACHINES = ("pc", "q35")
BOOT_DEVICES = ("hd", "cdrom", "network")
DISK_BUSES = ("virtio", "sata", "scsi", "ide")


@dataclass(frozen=True)
class DiskSpec:
    id: str
    pool: str
    volume: str
    size_gib: float | None = None
    image: str | None = None  # base image path: the disk is a qcow2 overlay of it
    bus: str = "virtio"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pool": self.pool,
            "volume": self.volume,
            "size_gib": self.size_gib,
            "image": self.image,
            "bus": self.bus,
        }


@dataclass(frozen=True)
class NicSpec:
    mac: str
    bridge: str
    model: str = "virtio"
    port: str | None = None  # an OVS port: the tap and OVN logical port name


@dataclass(frozen=True)
class CdromSpec:
    path: str | None = None
    pool: str | None = None
    volume: str | None = None


@dataclass(frozen=True)
class CloudInitSpec:
    hostname: str
    ssh_keys: tuple[str, ...] = ()
    password_hash: str | None = None
    user_data: str | None = None  # a whole user-data document, replacing the generated one
    network_config: str | None = None
    install_agent: bool = False  # the Quantix guest agent's .deb, installed at first boot


@dataclass(frozen=True)
class VmSpec:
    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    firmware: str = "bios"
    machine: str = "pc"
    disks: tuple[DiskSpec, ...] = ()
    cdrom: CdromSpec | None = None
    nics: tuple[NicSpec, ...] = ()
    boot: tuple[str, ...] = ("hd",)
    cloud_init: CloudInitSpec | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def domain_name(self) -> str:
        return domain_name(self.vm_id)


DOMAIN_PREFIX = "qx-"


def domain_name(vm_id: str) -> str:
    """The libvirt domain name of a VM: ours are recognisable by their prefix."""
    return DOMAIN_PREFIX + vm_id


def vm_id_of(domain: str) -> str | None:
    return domain[len(DOMAIN_PREFIX) :] if domain.startswith(DOMAIN_PREFIX) else None


def default_volume_name(vm_id: str, disk_id: str) -> str:
    return f"{vm_id}-{disk_id}.qcow2"


def check_vm_id(vm_id: str) -> str:
    if not isinstance(vm_id, str) or not ID_RE.match(vm_id):
        raise InvalidSpec(
            f"VM id {vm_id!r} must be 1-64 letters, digits, '.', '_' or '-'", field="id"
        )
    return vm_id


def _int(raw: dict[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    val = raw.get(key, default)
    if type(val) is not int or not lo <= val <= hi:
        raise InvalidSpec(f"{key} must be an integer from {lo} to {hi}, got {val!r}", field=key)
    return val


def _choice(raw: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    val = raw.get(key) or default
    if val not in choices:
        raise InvalidSpec(f"{key} must be one of {', '.join(choices)}, got {val!r}", field=key)
    return str(val)


def _opt_str(raw: dict[str, Any], key: str, where: str) -> str | None:
    val = raw.get(key)
    if val is None:
        return None
    if not isinstance(val, str) or not val:
        raise InvalidSpec(f"{where}{key} must be a non-empty string", field=f"{where}{key}")
    return val


def parse_disk(vm_id: str, raw: Any, index: int = 0) -> DiskSpec:
    where = f"disks[{index}]."
    if not isinstance(raw, dict):
        raise InvalidSpec(f"{where[:-1]} must be a mapping", field=where[:-1])
    did = raw.get("id") or f"d{index}"
    if not isinstance(did, str) or not DISK_ID_RE.match(did):
        raise InvalidSpec(f"{where}id {did!r} must be 1-32 letters, digits, '_' or '-'")
    pool = raw.get("pool") or "local"
    volume = raw.get("volume") or default_volume_name(vm_id, did)
    if not isinstance(pool, str) or not VOLUME_RE.match(pool):
        raise InvalidSpec(f"{where}pool {pool!r} is not a valid pool name", field=where + "pool")
    if not isinstance(volume, str) or not VOLUME_RE.match(volume):
        raise InvalidSpec(f"{where}volume {volume!r} is not a valid volume name")
    size = raw.get("size_gib")
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < size <= 65536
    ):
        raise InvalidSpec(f"{where}size_gib must be a number in (0, 65536], got {size!r}")
    image = _opt_str(raw, "image", where)
    if size is None and image is None:
        raise InvalidSpec(f"{where[:-1]} needs a size_gib or an image", field=where[:-1])
    bus = raw.get("bus") or "virtio"
    if bus not in DISK_BUSES:
        raise InvalidSpec(f"{where}bus must be one of {', '.join(DISK_BUSES)}, got {bus!r}")
    return DiskSpec(did, pool, volume, None if size is None else float(size), image, bus)


def parse_nic(raw: Any, index: int) -> NicSpec:
    where = f"nics[{index}]"
    if not isinstance(raw, dict):
        raise InvalidSpec(f"{where} must be a mapping", field=where)
    mac = str(raw.get("mac") or "").lower()
    if not MAC_RE.match(mac):
        raise InvalidSpec(f"{where}.mac {raw.get('mac')!r} is not a MAC address")
    if int(mac[:2], 16) & 1:
        raise InvalidSpec(f"{where}.mac {mac} is a multicast address")
    port = raw.get("port")
    if port is not None and (not isinstance(port, str) or not PORT_RE.match(port)):
        raise InvalidSpec(f"{where}.port {port!r} is not an OVS port name (qxt + 11 hex)")
    bridge = raw.get("bridge") or ("br-int" if port else raw.get("network"))
    if not isinstance(bridge, str) or not BRIDGE_RE.match(bridge):
        raise InvalidSpec(f"{where} needs a bridge (1-15 characters), got {bridge!r}")
    model = raw.get("model") or "virtio"
    if model not in ("virtio", "e1000", "rtl8139"):
        raise InvalidSpec(f"{where}.model {model!r} is not supported")
    return NicSpec(mac, bridge, model, port)


def _install_agent(v: Any, raw: dict[str, Any]) -> bool:
    if not isinstance(v, bool):
        raise InvalidSpec("cloud_init.install_agent must be true or false")
    if v and raw.get("user_data") is not None:
        # The agent goes in through the generated document; a caller's own
        # user-data replaces it whole, so the two cannot be combined.
        raise InvalidSpec(
            "cloud_init.install_agent cannot be combined with user_data",
            field="cloud_init.install_agent",
        )
    return v


def parse_cloud_init(raw: Any, default_hostname: str) -> CloudInitSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidSpec("cloud_init must be a mapping or null", field="cloud_init")
    hostname = raw.get("hostname") or default_hostname
    if not isinstance(hostname, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$", hostname):
        raise InvalidSpec(f"cloud_init.hostname {hostname!r} is not a valid host name")
    keys = raw.get("ssh_keys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) and k.strip() for k in keys):
        raise InvalidSpec("cloud_init.ssh_keys must be a list of public keys")
    for k in keys:
        if "\n" in k.strip():
            raise InvalidSpec("an SSH key must be a single line", field="cloud_init.ssh_keys")
    return CloudInitSpec(
        hostname=hostname,
        ssh_keys=tuple(k.strip() for k in keys),
        password_hash=_opt_str(raw, "password_hash", "cloud_init."),
        user_data=_opt_str(raw, "user_data", "cloud_init."),
        network_config=_opt_str(raw, "network_config", "cloud_init."),
        install_agent=_install_agent(raw.get("install_agent", False), raw),
    )


def parse_spec(vm_id: str, raw: dict[str, Any]) -> VmSpec:
    """Check a VM record (references resolved) and return its VmSpec, or raise InvalidSpec."""
    check_vm_id(vm_id)
    if not isinstance(raw, dict):
        raise InvalidSpec("a VM spec must be a mapping")
    name = raw.get("name") or vm_id
    if not isinstance(name, str) or len(name) > 128:
        raise InvalidSpec("name must be a string of at most 128 characters", field="name")
    vcpus = _int(raw, "vcpus", 1, MAX_VCPUS, 1)
    memory = _int(raw, "memory_mib", MIN_MEMORY_MIB, MAX_MEMORY_MIB)
    firmware = _choice(raw, "firmware", FIRMWARES, "bios")
    machine = _choice(raw, "machine", MACHINES, "pc")
    disks_raw = raw.get("disks") or []
    if not isinstance(disks_raw, list) or len(disks_raw) > MAX_DISKS:
        raise InvalidSpec(f"disks must be a list of at most {MAX_DISKS}", field="disks")
    disks = tuple(parse_disk(vm_id, d, i) for i, d in enumerate(disks_raw))
    ids = [d.id for d in disks]
    if len(set(ids)) != len(ids):
        raise InvalidSpec("disk ids must be unique", field="disks")
    vols = [(d.pool, d.volume) for d in disks]
    if len(set(vols)) != len(vols):
        raise InvalidSpec("two disks use the same volume", field="disks")
    nics_raw = raw.get("nics") or []
    if not isinstance(nics_raw, list) or len(nics_raw) > MAX_NICS:
        raise InvalidSpec(f"nics must be a list of at most {MAX_NICS}", field="nics")
    nics = tuple(parse_nic(n, i) for i, n in enumerate(nics_raw))
    if len({n.mac for n in nics}) != len(nics):
        raise InvalidSpec("NIC MAC addresses must be unique", field="nics")
    cd = raw.get("cdrom")
    cdrom = None
    if cd is not None:
        if not isinstance(cd, dict) or not (
            cd.get("path") or (cd.get("pool") and cd.get("volume"))
        ):
            raise InvalidSpec("cdrom must be null, {path} or {pool, volume}", field="cdrom")
        cdrom = CdromSpec(cd.get("path"), cd.get("pool"), cd.get("volume"))
    boot = raw.get("boot") or ["hd"]
    if not isinstance(boot, list) or not boot or any(b not in BOOT_DEVICES for b in boot):
        raise InvalidSpec(f"boot must list some of {', '.join(BOOT_DEVICES)}", field="boot")
    if len(set(boot)) != len(boot):
        raise InvalidSpec("boot lists a device twice", field="boot")
    kernel = _opt_str(raw, "kernel", "")
    initrd = _opt_str(raw, "initrd", "")
    cmdline = raw.get("cmdline")
    if (initrd or cmdline) and not kernel:
        raise InvalidSpec("initrd and cmdline need a kernel", field="kernel")
    if cmdline is not None and not isinstance(cmdline, str):
        raise InvalidSpec("cmdline must be a string", field="cmdline")
    if kernel and firmware == "uefi":
        raise InvalidSpec("direct kernel boot is only supported with BIOS firmware")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise InvalidSpec("labels must be a mapping", field="labels")
    return VmSpec(
        vm_id=vm_id,
        name=name,
        vcpus=vcpus,
        memory_mib=memory,
        firmware=firmware,
        machine=machine,
        disks=disks,
        cdrom=cdrom,
        nics=nics,
        boot=tuple(boot),
        cloud_init=parse_cloud_init(raw.get("cloud_init"), name if _hostname_ok(name) else vm_id),
        kernel=kernel,
        initrd=initrd,
        cmdline=cmdline,
        labels={str(k): str(v) for k, v in labels.items()},
    )


def _hostname_ok(name: str) -> bool:
    return bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$", name))
