"""From a ``vms`` record and the cluster tables to what the driver understands. Pure.

The record names things by cluster id (a volume id, an image id, a network
name); the driver wants this host's terms: a volume *name* in a pool, the base
image's *path*, the bridge to plug into. ``resolve_spec`` translates, and
``decide`` says what the reconciler must do with one VM on this peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Tables = Mapping[str, Mapping[str, Mapping[str, Any]]]


class ResolveError(Exception):
    """The record names something the cluster state does not have (an image,
    a pool, a network): the VM cannot be defined until it exists."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve_spec(vm: Mapping[str, Any], tables: Tables) -> dict[str, Any]:
    """The driver spec (hypervisor.spec's shape) for a ``vms`` record."""
    volumes = tables.get("volumes", {})
    images = tables.get("images", {})
    networks = tables.get("networks", {})
    pools = tables.get("pools", {})
    out = dict(vm)
    disks = []
    for i, d in enumerate(vm.get("disks") or []):
        d = dict(d)
        d.setdefault("id", f"d{i}")
        vol = volumes.get(str(d.get("volume"))) if d.get("volume") else None
        if vol is not None:
            d["volume"] = vol.get("name") or d["volume"]
            d["pool"] = vol.get("pool") or d.get("pool")
        if not d.get("pool"):
            d["pool"] = next(iter(sorted(pools)), "local")
        if d.get("image"):
            d["image"] = image_path(str(d["image"]), images)
        disks.append(d)
    out["disks"] = disks
    cd = vm.get("cdrom")
    if isinstance(cd, str):
        out["cdrom"] = {"path": image_path(cd, images)}
    nics = []
    for n in vm.get("nics") or []:
        n = dict(n)
        net = networks.get(str(n.get("network")))
        if not n.get("bridge"):
            n["bridge"] = (net or {}).get("bridge") or n.get("network")
        nics.append(n)
    out["nics"] = nics
    return out


def image_path(ref: str, images: Mapping[str, Mapping[str, Any]]) -> str:
    """An image id's file; a ref that is already an absolute path stays as it is."""
    img = images.get(ref)
    if img is None:
        if ref.startswith("/"):
            return ref
        raise ResolveError(f"image {ref!r} does not exist")
    path = img.get("path")
    if not path:
        raise ResolveError(f"image {ref!r} has no file yet (state {img.get('state')!r})")
    return str(path)


def pools_needed(spec: Mapping[str, Any], tables: Tables) -> dict[str, str]:
    """{pool name: path} for the pools the spec's disks live in (from the pools table)."""
    pools = tables.get("pools", {})
    out = {}
    for d in spec.get("disks") or []:
        name = d.get("pool")
        rec = pools.get(str(name))
        if rec is not None and rec.get("path"):
            out[str(name)] = str(rec["path"])
    return out


def kept_volumes(tables: Tables) -> set[tuple[str, str]]:
    """(pool, name) of every volume the cluster still has a record of: a deleted
    VM's disks that were kept (``keep_volumes``) must survive its domain."""
    return {
        (str(v.get("pool")), str(v.get("name")))
        for v in tables.get("volumes", {}).values()
        if v.get("pool") and v.get("name")
    }


# -- what to do with one VM ---------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """``remove``: take the local domain away (``purge_disks``: its volumes too,
    except kept ones); ``stale``: force off a domain started under an older
    placement epoch before anything else; ``manage``: converge to ``desired``."""

    remove: bool = False
    purge_disks: bool = False
    stale: bool = False
    manage: bool = False
    desired: str = "stopped"
    epoch: int = 0
    why: str = ""


def decide(
    vm: Mapping[str, Any] | None,
    node_id: str,
    local_epoch: int | None,
    local_state: str | None,
) -> Decision:
    """The HA safety rule and desired state, for one VM id on this peer.

    ``local_epoch``/``local_state`` describe the domain here (None: no domain).
    """
    have = local_state is not None
    if vm is None:
        if have:
            return Decision(remove=True, purge_disks=True, why="the VM was deleted")
        return Decision(why="deleted and absent")
    placement = vm.get("placement")
    epoch = int(vm.get("placement_epoch") or 0)
    if placement != node_id:
        if have:
            where = f"on {placement}" if placement else "nowhere"
            return Decision(remove=True, why=f"the VM is placed {where}, not here")
        return Decision(why="not ours")
    desired = str(vm.get("desired") or "running")
    if desired not in ("running", "stopped", "paused"):
        desired = "stopped"
    stale = (
        have
        and local_epoch is not None
        and local_epoch < epoch
        and local_state not in ("stopped", None)
    )
    why = f"stale domain of epoch {local_epoch} < {epoch}" if stale else ""
    return Decision(manage=True, stale=stale, desired=desired, epoch=epoch, why=why)
