"""vm commands: list, show, create, edit, delete, power actions, migrate, console."""

from __future__ import annotations

import argparse
from typing import Any

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, group, leaf
from peer.cli.commands.common import parse_gib, parse_mib, resolve, wait_task
from peer.cli.errors import EXIT_USAGE, CliError
from peer.cli.output import col, emit

VM_COLUMNS = [
    col("id", "id"),
    col("name", "name"),
    col("vcpus", "vcpus"),
    col("memory MiB", "memory_mib"),
    col("desired", "desired"),
    col("state", lambda v: (v.get("status") or {}).get("state", "pending")),
    col("node", "placement"),
]
ACTIONS = {
    "start": "Start VMs",
    "stop": "Power VMs off at once",
    "shutdown": "Shut VMs down gracefully",
    "reboot": "Reboot VMs",
    "pause": "Pause VMs",
    "resume": "Resume paused VMs",
}


def _disk(text: str) -> dict[str, Any]:
    """``SIZE[:IMAGE][@POOL]``, e.g. ``20G:debian-12@local``."""
    spec, _, pool = text.partition("@")
    size, _, image = spec.partition(":")
    disk: dict[str, Any] = {"size_gib": parse_gib(size)}
    if image:
        disk["image"] = image
    if pool:
        disk["pool"] = pool
    return disk


def _nic(text: str) -> dict[str, Any]:
    """``blue``, ``blue:10.60.0.5``, ``blue::web,db`` -> a NIC of the create body."""
    net, _, rest = text.partition(":")
    ip, _, groups = rest.partition(":")
    nic: dict[str, Any] = {"network": net}
    if ip:
        nic["ip"] = ip
    if groups:
        nic["groups"] = [g for g in groups.split(",") if g]
    return nic


async def _image_id(c: ApiClient, ref: str) -> str:
    return str((await resolve(c, "images", ref))["id"])


async def vm_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/vms", state=args.state, node=args.node, q=args.q), args.output, VM_COLUMNS
    )


async def vm_show(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await resolve(c, "vms", args.vm), args.output)


async def vm_create(args: argparse.Namespace, c: ApiClient) -> None:
    spec: dict[str, Any] = {
        "name": args.name,
        "vcpus": args.vcpus,
        "memory_mib": parse_mib(args.memory),
    }
    disks = [_disk(d) for d in args.disk]
    for d in disks:
        if "image" in d:
            d["image"] = await _image_id(c, d["image"])
    if disks:
        spec["disks"] = disks
    if args.nic:
        spec["nics"] = [_nic(n) for n in args.nic]
    if args.cdrom:
        spec["cdrom"] = await _image_id(c, args.cdrom)
    if args.ha:
        spec["ha"] = {"enabled": True}
    if args.start:
        spec["desired"] = "running"
    if args.firmware:
        spec["firmware"] = args.firmware
    emit(await c.post("/vms", spec), args.output)


async def vm_edit(args: argparse.Namespace, c: ApiClient) -> None:
    vm = await resolve(c, "vms", args.vm)
    patch: dict[str, Any] = {}
    if args.vcpus is not None:
        patch["vcpus"] = args.vcpus
    if args.memory is not None:
        patch["memory_mib"] = parse_mib(args.memory)
    if not patch:
        raise CliError("nothing to change: give --vcpus and/or --memory", exit_code=EXIT_USAGE)
    # If-Match: refuse to overwrite a change made since we read it.
    data, _ = await c.request(
        "PATCH", f"/vms/{vm['id']}", patch, headers={"If-Match": f'"{vm["version"]}"'}
    )
    emit(data, args.output)


async def vm_delete(args: argparse.Namespace, c: ApiClient) -> None:
    for ref in args.vms:
        vm = await resolve(c, "vms", ref)
        await c.delete(f"/vms/{vm['id']}", force=args.force or None)
        print(f"deleted VM {vm['name']}")


async def _action(args: argparse.Namespace, c: ApiClient, kind: str, body: Any = None) -> int:
    for ref in args.vms:
        vm = await resolve(c, "vms", ref)
        task = await c.post(f"/vms/{vm['id']}/{kind}", body)
        if args.wait:
            await wait_task(c, task["id"], args.timeout, f"{kind} {vm['name']}")
            print(f"{kind} {vm['name']}: done")
        elif args.output == "json":
            emit(task, "json")
        else:
            print(f"{kind} {vm['name']}: task {task['id']} ({task['state']})")
    return 0


def _action_runner(kind: str) -> Any:
    async def run(args: argparse.Namespace, c: ApiClient) -> int:
        return await _action(args, c, kind)

    return run


async def vm_migrate(args: argparse.Namespace, c: ApiClient) -> int:
    body: dict[str, Any] = {"live": not args.offline}
    if args.node:
        body["node"] = args.node
    return await _action(args, c, "migrate", body)


async def vm_console(args: argparse.Namespace, c: ApiClient) -> None:
    vm = await resolve(c, "vms", args.vm)
    emit(await c.get(f"/vms/{vm['id']}/console"), args.output)


def _waitable(p: Any) -> None:
    p.add_argument("--wait", action="store_true", help="follow the task with a progress bar")
    p.add_argument("--timeout", type=float, default=600.0)


def register(sub: Sub) -> None:
    g = group(sub, "vm", "Virtual machines", aliases=["vms"])
    p = leaf(g, "list", "List VMs", vm_list)
    p.add_argument("--state")
    p.add_argument("--node")
    p.add_argument("-q", help="name contains")
    leaf(g, "show", "Show a VM (by name or id)", vm_show).add_argument("vm")
    p = leaf(g, "create", "Create a VM", vm_create)
    p.add_argument("name")
    p.add_argument("--vcpus", type=int, default=1)
    p.add_argument("--memory", default="1G", help="e.g. 512M, 2G")
    p.add_argument("--disk", action="append", default=[], help="SIZE[:IMAGE][@POOL], repeatable")
    p.add_argument(
        "--nic",
        action="append",
        default=[],
        help="NETWORK[:IP[:GROUP,...]] (an empty IP: the next free one), repeatable",
    )
    p.add_argument("--cdrom", help="ISO image name or id")
    p.add_argument("--firmware", choices=["bios", "uefi"])
    p.add_argument("--ha", action="store_true", help="restart it elsewhere if its host dies")
    p.add_argument("--start", action="store_true", help="start it once placed")
    p = leaf(g, "edit", "Change vCPUs or memory (applies at next boot)", vm_edit)
    p.add_argument("vm")
    p.add_argument("--vcpus", type=int)
    p.add_argument("--memory")
    p = leaf(g, "delete", "Delete VMs", vm_delete)
    p.add_argument("vms", nargs="+")
    p.add_argument("--force", action="store_true", help="even if running")
    for kind, help_text in ACTIONS.items():
        p = leaf(g, kind, help_text, _action_runner(kind))
        p.add_argument("vms", nargs="+")
        _waitable(p)
    p = leaf(g, "migrate", "Move a VM to another host", vm_migrate)
    p.add_argument("vms", nargs="+")
    p.add_argument("--node", help="target host (default: the scheduler picks)")
    p.add_argument("--offline", action="store_true")
    _waitable(p)
    leaf(g, "console", "Where a VM's console is", vm_console).add_argument("vm")
