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

from peer.ha.rules import CopyVerdict, local_copy_verdict, may_start

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
    for field in ("kernel", "initrd"):
        if vm.get(field):
            out[field] = image_path(str(vm[field]), images)
    cd = vm.get("cdrom")
    if isinstance(cd, str):
        out["cdrom"] = {"path": image_path(cd, images)}
    nics = []
    for n in vm.get("nics") or []:
        n = dict(n)
        net = networks.get(str(n.get("network")))
        if n.get("port"):
            # An OVN network's NIC: a tap in OVS's br-int (the driver plugs it).
            n["bridge"] = "br-int"
        elif not n.get("bridge"):
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
    """What one pass does with one VM id on this peer.

    ``remove``: destroy and undefine the local domain (``purge_disks``: its
    volumes too, except kept ones); ``hand_over``: the local domain is the
    source of a live migration; ``report_source``: afterwards report
    ``{node: me, epoch: report_source, state: stopped}`` (the hand-over signal
    a migration's target waits for); ``restart``: force off a copy of another
    epoch before anything else; ``adopt``: record the new epoch and keep it;
    ``manage``: converge to ``desired``, starting a copy only if ``may_start``.
    """

    remove: bool = False
    purge_disks: bool = False
    hand_over: bool = False
    report_source: int | None = None
    restart: bool = False
    adopt: bool = False
    manage: bool = False
    may_start: bool = False
    desired: str = "stopped"
    epoch: int = 0
    why: str = ""


def decide(
    vm: Mapping[str, Any] | None,
    status: Mapping[str, Any] | None,
    node_id: str,
    local_epoch: int | None,
    has_domain: bool,
    fenced: bool = False,
) -> Decision:
    """The epoch rule and the migration hand-over (``peer.ha.rules``, written
    down once for the reconciler and the HA manager) applied to this peer.

    ``local_epoch``/``has_domain`` describe the domain here; ``status`` is the
    ``vm_status`` record value (None if none)."""
    mig = vm.get("migration") if vm is not None else None
    mig = mig if isinstance(mig, Mapping) else None
    src_epoch = None
    if mig is not None and mig.get("source") == node_id and mig.get("source_epoch") is not None:
        src_epoch = int(mig["source_epoch"])
    if has_domain:
        verdict = local_copy_verdict(vm, node_id, local_epoch)
        if verdict is CopyVerdict.DESTROY:
            where = "deleted" if vm is None else f"placed on {vm.get('placement') or 'no host'}"
            return Decision(
                remove=True,
                purge_disks=vm is None,
                report_source=src_epoch,
                why=f"the VM is {where}",
            )
        if verdict is CopyVerdict.HAND_OVER:
            return Decision(
                hand_over=True,
                report_source=src_epoch,
                why=f"live migration to {mig.get('target') if mig else '?'}",
            )
    elif vm is None or vm.get("placement") != node_id:
        st = status or {}
        reported = (
            st.get("node") == node_id
            and st.get("epoch") == src_epoch
            and st.get("state") == "stopped"
        ) or (
            # The target already reports the VM at its new epoch: our report
            # was read, and writing it again would only hide the target's.
            vm is not None
            and st.get("node") == vm.get("placement")
            and st.get("epoch") == vm.get("placement_epoch")
            and st.get("state") != "migrating"
        )
        if src_epoch is not None and not reported:
            return Decision(report_source=src_epoch, why="migration source without a copy")
        return Decision(why="not ours")
    assert vm is not None
    epoch = int(vm.get("placement_epoch") or 0)
    desired = str(vm.get("desired") or "running")
    if desired not in ("running", "stopped", "paused"):
        desired = "stopped"
    here = local_copy_verdict(vm, node_id, local_epoch) if has_domain else None
    ok, why = may_start({**vm, "desired": desired}, status, node_id, fenced)
    if desired == "stopped":
        ok, why = True, ""  # nothing to start: defining a stopped copy is harmless
    restart = here is CopyVerdict.RESTART
    return Decision(
        manage=True,
        restart=restart,
        adopt=here is CopyVerdict.ADOPT,
        may_start=ok,
        desired=desired,
        epoch=epoch,
        why=why or (f"a copy of epoch {local_epoch} is here, not {epoch}" if restart else ""),
    )
