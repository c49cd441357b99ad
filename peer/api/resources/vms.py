"""VMs: create (validated against the cluster state), list, get, edit, delete.

Names are unique cluster-wide: a create also puts ``meta/vm-name:<name>``
with ``expect="absent"`` in the same transaction, so two peers creating the
same name at once cannot both win (the key is the id; the name needs its own
compare-and-set).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from peer.api.errors import AlreadyExists, ConflictError, ValidationFailed
from peer.api.resources.common import (
    GET_QUERY,
    LIST_QUERY,
    get_or_404,
    list_schema,
    maybe_barrier,
    one,
    page,
    record_schema,
    update_record,
)
from peer.api.resources.observed import silent_hosts, status_view
from peer.api.routes import ApiRequest, Reply, Routes
from peer.api.vm_spec import VM_CREATE, VM_PATCH, VM_PROPS, build_vm, check_fits, check_references
from peer.auth.roles import Role
from peer.net import model as net_model
from raft.commands import Record
from raft.store import Store, delete, put

routes = Routes(tag="vms")

VM = record_schema(VM_PROPS, required=["name", "vcpus", "memory_mib", "desired"])
VM_STATES = [
    "pending",
    "defining",
    "running",
    "stopped",
    "paused",
    "shutting_down",
    "error",
    "migrating",
    "unknown",
]

DELETE_QUERY = {
    "force": {"type": "boolean", "default": False, "description": "delete even if running"},
    "keep_volumes": {"type": "boolean", "default": False},
}


def name_key(name: str) -> str:
    return f"vm-name:{name}"


# Cloud-init fields that can carry secrets (passwords, tokens in user data):
# operators, who write them, see them; viewers see that they are set.
SECRET_CLOUD_INIT = ("user_data", "password_hash")
HIDDEN = "(hidden)"


def with_status(req: ApiRequest) -> Any:
    """A view transform that adds the observed status (from ``vm_status``).
    A viewer does not see where an incoming live migration listens: it would
    be an invitation to send that QEMU a guest of one's own; nor cloud-init's
    secrets."""
    silent = silent_hosts(req)
    viewer = req.principal.role < Role.OPERATOR

    def transform(key: str, value: dict[str, Any]) -> dict[str, Any]:
        st = req.store.get("vm_status", key)
        status = status_view(st.value if st is not None else None, silent)
        if viewer and status is not None:
            status.pop("incoming", None)
        out = {**value, "status": status}
        ci = value.get("cloud_init")
        if viewer and isinstance(ci, dict):
            out["cloud_init"] = {
                k: (HIDDEN if k in SECRET_CLOUD_INIT and v is not None else v)
                for k, v in ci.items()
            }
        return out

    return transform


def observed_state(store: Store, vm_id: str, silent: set[str] | None = None) -> str:
    rec = store.get("vm_status", vm_id)
    st = status_view(rec.value if rec is not None else None, silent or set())
    return str(st.get("state")) if st is not None else "pending"


def _refs(store: Store) -> dict[str, dict[str, dict[str, Any]]]:
    return {t: {r.key: r.value for r in store.scan(t)} for t in ("images", "pools", "networks")}


def check_spec(req: ApiRequest, spec: dict[str, Any]) -> None:
    refs = _refs(req.store)
    problems = check_references(
        spec, images=refs["images"], pools=refs["pools"], networks=refs["networks"]
    )
    problems += check_fits(spec, {r.key: r.value for r in req.store.scan("nodes")})
    if problems:
        first = problems[0]
        code = "does_not_fit" if first["path"] in ("/vcpus", "/memory_mib") else "unknown_reference"
        raise ValidationFailed(f"{first['path']}: {first['problem']}", code=code, errors=problems)


@routes.get(
    "/vms",
    role=Role.VIEWER,
    summary="List VMs",
    query={
        **LIST_QUERY,
        "state": {"type": "string", "enum": VM_STATES},
        "node": {"type": "string", "description": "placed on this node"},
    },
    response=list_schema(VM),
)
async def list_vms(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    state, node = req.query.get("state"), req.query.get("node")
    silent = silent_hosts(req)

    def keep(r: Record) -> bool:
        return (state is None or observed_state(req.store, r.key, silent) == state) and (
            node is None or r.value.get("placement") == node
        )

    return page(req, req.store.scan("vms"), keep=keep, transform=with_status(req))


@routes.post(
    "/vms", role=Role.OPERATOR, summary="Create a VM", body=VM_CREATE, response=VM, status=201
)
async def create_vm(req: ApiRequest) -> Reply:
    """Checks that the name is free, referenced images/pools/networks exist and
    some host is big enough; commits the VM (and its volumes). The scheduler
    places it; with ``desired: running`` it starts once placed."""
    spec = req.body
    name = spec["name"]
    if req.store.get("meta", name_key(name)) is not None:
        raise AlreadyExists(f"a VM named {name!r} already exists", field="name")
    check_spec(req, spec)
    vm_id = secrets.token_hex(6)
    pools = sorted(r.key for r in req.store.scan("pools"))
    vm, volumes = build_vm(spec, vm_id, time.time(), pools[0] if pools else None)
    # Two creates may pick one free address at once: the loser's reservation
    # fails its expect="absent" and it picks again.
    for attempt in range(5):
        vm["nics"], reservations = _addresses(req, vm_id, vm["nics"], spec)
        ops = [
            put("meta", name_key(name), {"vm": vm_id}, expect="absent"),
            put("vms", vm_id, vm, expect="absent"),
        ]
        ops += [put("volumes", vid, v, expect="absent") for vid, v in volumes.items()]
        ops += [put("meta", k, v, expect="absent") for k, v in reservations.items()]
        try:
            await req.commit(ops, event=("vm.created", "vms", vm_id, f"VM {name} created"))
            break
        except ConflictError:
            if req.store.get("meta", name_key(name)) is not None or attempt == 4:
                raise AlreadyExists(f"a VM named {name!r} already exists", field="name") from None
    return one(get_or_404(req, "vms", vm_id, "VM"), with_status(req), status=201)


def _addresses(
    req: ApiRequest, vm_id: str, nics: list[dict[str, Any]], spec: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The NICs with their ports and addresses, and the ``meta`` records that reserve them."""
    networks = {r.key: r.value for r in req.store.scan("networks")}
    taken: dict[str, set[str]] = {}
    for net in {str(n["network"]) for n in nics}:
        prefix = net_model.ip_prefix(net)
        taken[net] = {r.key[len(prefix) :] for r in req.store.scan("meta", prefix)}
    groups = {r.key for r in req.store.scan("secgroups")}
    try:
        out = net_model.assign_nics(vm_id, nics, spec.get("nics") or [], networks, taken, groups)
    except net_model.NetworkError as e:
        raise ValidationFailed(e.message, code=e.code, path=e.path) from None
    reservations = {
        net_model.ip_key(str(n["network"]), str(n["ip"])): {"vm": vm_id, "port": n["port"]}
        for n in out
        if n.get("ip")
    }
    return out, reservations


@routes.get(
    "/vms/{vm_id}",
    role=Role.VIEWER,
    summary="Get a VM (spec and observed status)",
    query=GET_QUERY,
    response=VM,
)
async def get_vm(req: ApiRequest) -> Reply:
    await maybe_barrier(req)
    return one(get_or_404(req, "vms", req.params["vm_id"], "VM"), with_status(req))


@routes.patch(
    "/vms/{vm_id}",
    role=Role.OPERATOR,
    summary="Edit a VM (applies at next boot)",
    body=VM_PATCH,
    response=VM,
)
async def update_vm(req: ApiRequest) -> Reply:
    """Send ``If-Match: "<version>"`` from a GET to refuse overwriting someone
    else's change (412)."""
    vm_id = req.params["vm_id"]
    current = get_or_404(req, "vms", vm_id, "VM").value
    # The boot fields are checked merged: a new command line alone is fine for a
    # VM that has a kernel, and removing the kernel under an initrd is not.
    boot = {k: current.get(k) for k in ("kernel", "initrd", "cmdline")}
    check_spec(req, {**boot, **req.body})
    rec = await update_record(
        req,
        "vms",
        vm_id,
        "VM",
        lambda v: {**v, **req.body},
        event=("vm.updated", "vms", vm_id, f"VM {vm_id} edited"),
    )
    return one(rec, with_status(req))


@routes.delete(
    "/vms/{vm_id}", role=Role.OPERATOR, summary="Delete a VM", query=DELETE_QUERY, status=204
)
async def delete_vm(req: ApiRequest) -> None:
    """Refused while it runs unless ``force=true``. The hosting peer destroys the
    domain when the record is gone; its volumes go too unless ``keep_volumes``."""
    vm_id = req.params["vm_id"]
    rec = get_or_404(req, "vms", vm_id, "VM")
    expect = req.check_if_match(rec.version)
    state = observed_state(req.store, vm_id)
    if state in ("running", "paused", "migrating") and not req.query.get("force"):
        raise ConflictError(
            f"VM {rec.value.get('name')} is {state}; stop it or use force=true", code="vm_running"
        )
    ops = [delete("vms", vm_id, expect=expect), delete("meta", name_key(str(rec.value["name"])))]
    ops += [
        delete("meta", net_model.ip_key(str(n["network"]), str(n["ip"])))
        for n in rec.value.get("nics") or []
        if n.get("ip")
    ]
    if not req.query.get("keep_volumes"):
        ops += [
            delete("volumes", v.key)
            for v in req.store.scan("volumes")
            if v.value.get("vm") == vm_id
        ]
    else:
        ops += [
            put("volumes", v.key, dict(v.value, vm=None), expect=v.version)
            for v in req.store.scan("volumes")
            if v.value.get("vm") == vm_id
        ]
    await req.commit(ops, event=("vm.deleted", "vms", vm_id, f"VM {rec.value.get('name')} deleted"))
