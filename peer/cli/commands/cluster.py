"""cluster and node commands."""

from __future__ import annotations

import argparse

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, group, leaf
from peer.cli.errors import EXIT_USAGE, CliError
from peer.cli.output import col, emit, when

NODE_COLUMNS = [
    col("id", "id"),
    col("hostname", "hostname"),
    col("address", "address"),
    col("state", "state"),
    col("cpus", lambda n: (n.get("resources") or {}).get("cpus")),
    col("memory MiB", lambda n: (n.get("resources") or {}).get("memory_mib")),
    col("labels", "labels"),
]


async def cluster_show(args: argparse.Namespace, c: ApiClient) -> None:
    data = await c.get("/cluster", consistent=args.consistent)
    if args.output == "json":
        emit(data, "json")
        return
    h = data["health"]
    print(
        f"cluster   {data['name']}\nleader    {data['leader']} (term {data.get('term')})\n"
        f"health    {h['status']}: {h['nodes_active']}/{h['nodes_total']} nodes active, "
        f"{h['vms_running']}/{h['vms_total']} VMs running, {h['vms_error']} in error\n"
    )
    emit(
        data["members"],
        "table",
        [
            col("node", "node_id"),
            col("hostname", "hostname"),
            col("address", "address"),
            col("state", "state"),
            col("leader", "leader"),
            col("lease age s", "lease_age_s"),
        ],
    )


async def cluster_discovered(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/cluster/discovered"),
        args.output,
        [
            col("id", "id"),
            col("hostname", "hostname"),
            col("address", "address"),
            col("seen", lambda d: when(d.get("seen_at"))),
        ],
    )


async def cluster_adopt(args: argparse.Namespace, c: ApiClient) -> None:
    body = {"pairing_code": args.code}
    emit(await c.post(f"/cluster/discovered/{args.node}/adopt", body), args.output)


async def node_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.get_all("/nodes", state=args.state), args.output, NODE_COLUMNS)


async def node_show(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.get(f"/nodes/{args.node}"), args.output)


async def node_maintenance(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.patch(f"/nodes/{args.node}", {"maintenance": args.mode == "on"}), args.output)


async def node_label(args: argparse.Namespace, c: ApiClient) -> None:
    labels = dict((await c.get(f"/nodes/{args.node}")).get("labels") or {})
    for item in args.labels:
        if item.endswith("-"):
            labels.pop(item[:-1], None)
        elif "=" in item:
            k, v = item.split("=", 1)
            labels[k] = v
        else:
            raise CliError(
                f"label {item!r}: use key=value, or key- to remove", exit_code=EXIT_USAGE
            )
    emit(await c.patch(f"/nodes/{args.node}", {"labels": labels}), args.output)


async def node_remove(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.delete(f"/nodes/{args.node}"), args.output)


def register(sub: Sub) -> None:
    g = group(sub, "cluster", "The cluster: members, health, hosts to adopt")
    leaf(g, "show", "Name, leader, members and health", cluster_show).add_argument(
        "--consistent", action="store_true", help="linearizable read"
    )
    leaf(g, "discovered", "Factory-state hosts seen on the LAN", cluster_discovered)
    adopt = leaf(g, "adopt", "Adopt a discovered host (with its pairing code)", cluster_adopt)
    adopt.add_argument("node")
    adopt.add_argument(
        "--code", required=True, help="the pairing code the host shows on its console"
    )
    g = group(sub, "node", "Hosts", aliases=["nodes"])
    leaf(g, "list", "List hosts", node_list).add_argument("--state")
    leaf(g, "show", "Show a host", node_show).add_argument("node")
    p = leaf(g, "maintenance", "Turn maintenance mode on or off", node_maintenance)
    p.add_argument("node")
    p.add_argument("mode", choices=["on", "off"])
    p = leaf(g, "label", "Set (k=v) or remove (k-) labels", node_label)
    p.add_argument("node")
    p.add_argument("labels", nargs="+")
    leaf(g, "remove", "Remove a host from the cluster", node_remove).add_argument("node")
