"""VM specs: their schema, the checks against the cluster state, and the records
they become. Pure: takes the relevant tables as arguments, returns decisions.

Cheap checks run here where the API call lands (Ganeti's rule): references to
images, pools and networks exist, and no VM asks for more than any host has.
The hosting peer does the full validation when it defines the domain.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from peer.api.resources.common import LABELS, NAME

MAX_VCPUS = 512
MAX_MEMORY_MIB = 16 * 1024 * 1024
MAC = {"type": "string", "pattern": "^52:54:00(:[0-9a-f]{2}){3}$"}
DISK = {
    "type": "object",
    "required": ["size_gib"],
    "properties": {
        "pool": {"type": "string", "minLength": 1, "description": "default: the first pool"},
        "size_gib": {"type": "integer", "minimum": 1, "maximum": 65536},
        "image": {"type": ["string", "null"], "description": "image id to clone from"},
        "bus": {"type": "string", "enum": ["virtio", "sata", "scsi", "ide"], "default": "virtio"},
    },
}
NIC = {
    "type": "object",
    "required": ["network"],
    "properties": {
        "network": {"type": "string", "minLength": 1},
        "mac": MAC,
        "ip": {
            "type": ["string", "null"],
            "description": "a fixed address on the network's subnet (default: the next free one)",
        },
        "groups": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 63},
            "maxItems": 16,
            "uniqueItems": True,
            "description": "security groups (OVN networks only)",
        },
    },
}
CLOUD_INIT = {
    "type": ["object", "null"],
    "properties": {
        "hostname": {"type": "string", "maxLength": 63},
        "ssh_keys": {"type": "array", "items": {"type": "string", "maxLength": 16384}},
        "password_hash": {"type": ["string", "null"], "maxLength": 512},
        "user_data": {"type": ["string", "null"], "maxLength": 65536},
        "install_agent": {
            "type": "boolean",
            "description": "install the Quantix guest agent (.deb) at first boot (Debian/Ubuntu)",
        },
    },
}
HA = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
        "max_restarts": {"type": "integer", "minimum": 0, "maximum": 100},
        "window_s": {"type": "integer", "minimum": 60, "maximum": 86400 * 7},
    },
}
BOOT = {
    "type": "array",
    "items": {"type": "string", "enum": ["hd", "cdrom", "network"]},
    "minItems": 1,
    "uniqueItems": True,
}
VCPUS = {"type": "integer", "minimum": 1, "maximum": MAX_VCPUS}
MEMORY = {"type": "integer", "minimum": 1, "maximum": MAX_MEMORY_MIB}
DESIRED = ["running", "stopped", "paused"]

# Fields a user may change after creation (they apply at the next boot).
EDITABLE: dict[str, Any] = {
    "vcpus": VCPUS,
    "memory_mib": MEMORY,
    "cdrom": {"type": ["string", "null"]},
    "boot": BOOT,
    # Direct kernel boot (appliances, test guests): image ids of kind "kernel"
    # and "initrd", and the kernel's command line.
    "kernel": {"type": ["string", "null"]},
    "initrd": {"type": ["string", "null"]},
    "cmdline": {"type": ["string", "null"], "maxLength": 1024, "pattern": "^[^\\x00\\n]*$"},
    "cloud_init": CLOUD_INIT,
    "ha": HA,
    "labels": LABELS,
    "description": {"type": "string", "maxLength": 1000},
}
VM_CREATE = {
    "type": "object",
    "required": ["name", "vcpus", "memory_mib"],
    "properties": {
        "name": NAME,
        **EDITABLE,
        "firmware": {"type": "string", "enum": ["bios", "uefi"], "default": "bios"},
        "machine": {"type": "string", "enum": ["pc", "q35"], "default": "pc"},
        "disks": {"type": "array", "items": DISK, "maxItems": 16},
        "nics": {"type": "array", "items": NIC, "maxItems": 8},
        "desired": {"type": "string", "enum": DESIRED, "default": "stopped"},
    },
}
VM_PATCH = {"type": "object", "properties": EDITABLE}
VM_PROPS: dict[str, Any] = {
    "name": {"type": "string"},
    "vcpus": {"type": "integer"},
    "memory_mib": {"type": "integer"},
    "firmware": {"type": "string"},
    "machine": {"type": "string"},
    "disks": {"type": "array"},
    "nics": {"type": "array"},
    "desired": {"type": "string"},
    "kernel": {"type": ["string", "null"]},
    "initrd": {"type": ["string", "null"]},
    "cmdline": {"type": ["string", "null"]},
    "placement": {"type": ["string", "null"]},
    "status": {"type": ["object", "null"], "description": "observed, from the hosting peer"},
}

Problem = dict[str, str]


def check_references(
    spec: Mapping[str, Any],
    *,
    images: Mapping[str, Mapping[str, Any]],
    pools: Mapping[str, Mapping[str, Any]],
    networks: Mapping[str, Mapping[str, Any]],
) -> list[Problem]:
    """Every image, pool and network the spec names exists."""
    out: list[Problem] = []
    for i, d in enumerate(spec.get("disks") or []):
        if d.get("image") and d["image"] not in images:
            out.append(
                {"path": f"/disks/{i}/image", "problem": f"image {d['image']!r} does not exist"}
            )
        if d.get("pool") and d["pool"] not in pools:
            out.append(
                {"path": f"/disks/{i}/pool", "problem": f"pool {d['pool']!r} does not exist"}
            )
        if not d.get("pool") and not pools:
            out.append({"path": f"/disks/{i}/pool", "problem": "no storage pool exists yet"})
    cd = spec.get("cdrom")
    if cd and cd not in images:
        out.append({"path": "/cdrom", "problem": f"image {cd!r} does not exist"})
    elif cd and images[cd].get("kind") != "iso":
        out.append({"path": "/cdrom", "problem": f"image {cd!r} is not an ISO"})
    out += _boot_problems(spec, images)
    for i, n in enumerate(spec.get("nics") or []):
        if n["network"] not in networks:
            out.append(
                {
                    "path": f"/nics/{i}/network",
                    "problem": f"network {n['network']!r} does not exist",
                }
            )
    return out


def _boot_problems(
    spec: Mapping[str, Any], images: Mapping[str, Mapping[str, Any]]
) -> list[Problem]:
    """The kernel and initrd name images of those kinds; an initrd or a command
    line without a kernel would be silently ignored by QEMU, so it is refused."""
    out: list[Problem] = []
    for field in ("kernel", "initrd"):
        ref = spec.get(field)
        if not ref:
            continue
        if ref not in images:
            out.append({"path": f"/{field}", "problem": f"image {ref!r} does not exist"})
        elif images[ref].get("kind") != field:
            out.append({"path": f"/{field}", "problem": f"image {ref!r} is not a {field} image"})
    if not spec.get("kernel") and (spec.get("initrd") or spec.get("cmdline")):
        out.append({"path": "/kernel", "problem": "an initrd or a command line needs a kernel"})
    return out


def check_fits(spec: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """No VM can ask for more vCPUs or memory than the biggest host has (when the
    hosts have reported their resources: an empty cluster cannot judge)."""
    res = [n.get("resources") or {} for n in nodes.values() if n.get("state") != "removed"]
    cpus = [int(r["cpus"]) for r in res if isinstance(r.get("cpus"), int)]
    mems = [int(r["memory_mib"]) for r in res if isinstance(r.get("memory_mib"), int)]
    out: list[Problem] = []
    if cpus and "vcpus" in spec and spec["vcpus"] > max(cpus):
        out.append(
            {
                "path": "/vcpus",
                "problem": f"no host has {spec['vcpus']} CPUs (the largest has {max(cpus)})",
            }
        )
    if mems and "memory_mib" in spec and spec["memory_mib"] > max(mems):
        out.append(
            {
                "path": "/memory_mib",
                "problem": f"no host has {spec['memory_mib']} MiB (the largest has {max(mems)})",
            }
        )
    return out


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def build_vm(
    spec: Mapping[str, Any], vm_id: str, now: float, default_pool: str | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The ``vms`` record and the ``volumes`` records (by id) a create makes."""
    disks: list[dict[str, Any]] = []
    volumes: dict[str, dict[str, Any]] = {}
    for i, d in enumerate(spec.get("disks") or []):
        vol_id = f"{vm_id}-d{i}"
        pool = d.get("pool") or default_pool
        disks.append(
            {
                "id": f"d{i}",
                "pool": pool,
                "volume": vol_id,
                "size_gib": d["size_gib"],
                "image": d.get("image"),
                "bus": d.get("bus", "virtio"),
            }
        )
        volumes[vol_id] = {
            "pool": pool,
            "name": f"{spec['name']}-d{i}",
            "size_bytes": d["size_gib"] * 1024**3,
            "format": "qcow2",
            "backing_image": d.get("image"),
            "node": None,
            "vm": vm_id,
            "state": "pending",
            "created_at": now,
        }
    vm = {
        "name": spec["name"],
        "vcpus": spec["vcpus"],
        "memory_mib": spec["memory_mib"],
        "firmware": spec.get("firmware", "bios"),
        "machine": spec.get("machine", "pc"),
        "disks": disks,
        "cdrom": spec.get("cdrom"),
        "nics": [
            {"network": n["network"], "mac": n.get("mac") or random_mac()}
            for n in spec.get("nics") or []
        ],
        "boot": spec.get("boot") or (["cdrom", "hd"] if spec.get("cdrom") else ["hd"]),
        "kernel": spec.get("kernel"),
        "initrd": spec.get("initrd"),
        "cmdline": spec.get("cmdline"),
        "cloud_init": spec.get("cloud_init"),
        "ha": {
            "enabled": False,
            "priority": 100,
            "max_restarts": 3,
            "window_s": 3600,
            **(spec.get("ha") or {}),
        },
        "labels": spec.get("labels") or {},
        "description": spec.get("description", ""),
        "desired": spec.get("desired", "stopped"),
        "placement": None,
        "placement_epoch": 0,
        "created_at": now,
    }
    return vm, volumes
