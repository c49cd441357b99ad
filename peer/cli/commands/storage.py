"""pool, volume, image, network and security-group commands."""

from __future__ import annotations

import argparse
from typing import Any

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, group, leaf
from peer.cli.commands.common import parse_gib, resolve
from peer.cli.output import col, emit


def _gib(v: dict[str, Any]) -> str:
    size = v.get("size_bytes")
    return f"{size / 1024**3:.1f}G" if isinstance(size, int) else "-"


async def pool_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/pools"),
        args.output,
        [
            col("name", "id"),
            col("type", "type"),
            col("root", "root"),
            col("path", "path"),
            col("shared", "shared"),
            col("nodes", "nodes"),
        ],
    )


async def pool_create(args: argparse.Namespace, c: ApiClient) -> None:
    body: dict[str, Any] = {"name": args.name, "root": args.root, "shared": args.shared}
    if args.node:
        body["nodes"] = args.node
    emit(await c.post("/pools", body), args.output)


async def volume_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/volumes", pool=args.pool),
        args.output,
        [
            col("id", "id"),
            col("name", "name"),
            col("pool", "pool"),
            col("size", _gib),
            col("format", "format"),
            col("vm", "vm"),
            col("state", "state"),
        ],
    )


async def volume_create(args: argparse.Namespace, c: ApiClient) -> None:
    body = {
        "name": args.name,
        "pool": args.pool,
        "size_gib": parse_gib(args.size),
        "format": args.format,
    }
    emit(await c.post("/volumes", body), args.output)


async def volume_resize(args: argparse.Namespace, c: ApiClient) -> None:
    vol = await resolve(c, "volumes", args.volume)
    emit(await c.patch(f"/volumes/{vol['id']}", {"size_gib": parse_gib(args.size)}), args.output)


async def image_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/images", kind=args.kind),
        args.output,
        [
            col("id", "id"),
            col("name", "name"),
            col("kind", "kind"),
            col("pool", "pool"),
            col("size", _gib),
            col("state", "state"),
        ],
    )


async def image_create(args: argparse.Namespace, c: ApiClient) -> None:
    body: dict[str, Any] = {"name": args.name, "kind": args.kind, "pool": args.pool}
    for k in ("source_url", "sha256"):
        if getattr(args, k):
            body[k] = getattr(args, k)
    emit(await c.post("/images", body), args.output)


async def network_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/networks"),
        args.output,
        [
            col("name", "id"),
            col("type", "type"),
            col("cidr", "cidr"),
            col("gateway", "gateway"),
            col("vlan", "vlan"),
            col("bridge", "bridge"),
        ],
    )


async def network_create(args: argparse.Namespace, c: ApiClient) -> None:
    body: dict[str, Any] = {"name": args.name}
    kind = args.type or ("bridge" if args.bridge else "overlay")
    body["type"] = kind
    for k in ("bridge", "vlan", "cidr"):
        if getattr(args, k) is not None:
            body[k] = getattr(args, k)
    if args.gateway is not None:
        body["gateway"] = None if args.gateway == "none" else args.gateway
    if args.no_dhcp:
        body["dhcp"] = False
    if args.no_dns:
        body["dns"] = False
    emit(await c.post("/networks", body), args.output)


def _rule(text: str) -> dict[str, Any]:
    """``tcp:80``, ``tcp:8000-8080``, ``icmp``, ``udp:53@10.0.0.0/8``, ``any@group:web``."""
    body, _, source = text.partition("@")
    proto, _, ports = body.partition(":")
    rule: dict[str, Any] = {"protocol": proto}
    if ports:
        lo, _, hi = ports.partition("-")
        rule["port_min"] = int(lo)
        rule["port_max"] = int(hi or lo)
    if source.startswith("group:"):
        rule["group"] = source.removeprefix("group:")
    elif source:
        rule["cidr"] = source
    return rule


async def sg_list(args: argparse.Namespace, c: ApiClient) -> None:
    rows = await c.get_all("/security_groups")
    for r in rows:
        r["rule_count"] = len(r.get("rules") or [])
    emit(rows, args.output, [col("name", "id"), col("rules", "rule_count")])


async def sg_create(args: argparse.Namespace, c: ApiClient) -> None:
    body = {"name": args.name, "rules": [_rule(r) for r in args.rule]}
    emit(await c.post("/security_groups", body), args.output)


async def sg_set_rules(args: argparse.Namespace, c: ApiClient) -> None:
    body = {"rules": [_rule(r) for r in args.rule]}
    emit(await c.patch(f"/security_groups/{args.name}", body), args.output)


def _deleter(collection: str, by_name: bool) -> Any:
    async def run(args: argparse.Namespace, c: ApiClient) -> None:
        for ref in args.refs:
            rid = ref if by_name else (await resolve(c, collection, ref))["id"]
            await c.delete(f"/{collection}/{rid}")
            print(f"deleted {collection[:-1]} {ref}")

    return run


def _show(collection: str) -> Any:
    async def run(args: argparse.Namespace, c: ApiClient) -> None:
        emit(await resolve(c, collection, args.ref), args.output)

    return run


def register(sub: Sub) -> None:
    g = group(sub, "pool", "Storage pools", aliases=["pools"])
    leaf(g, "list", "List pools", pool_list)
    p = leaf(
        g, "create", "Create a directory pool (admin): <root>/<name> on each host", pool_create
    )
    p.add_argument("name")
    p.add_argument(
        "--root", default="local", help="an allowed root (pool_roots in node.yaml; default local)"
    )
    p.add_argument("--shared", action="store_true", help="every host sees it")
    p.add_argument("--node", action="append", help="a host that sees it (local pools)")
    leaf(g, "show", "Show a pool", _show("pools")).add_argument("ref")
    leaf(g, "delete", "Delete pools", _deleter("pools", True)).add_argument("refs", nargs="+")

    g = group(sub, "volume", "Volumes", aliases=["volumes"])
    leaf(g, "list", "List volumes", volume_list).add_argument("--pool")
    p = leaf(g, "create", "Create a volume", volume_create)
    p.add_argument("name")
    p.add_argument("--pool", required=True)
    p.add_argument("--size", required=True, help="e.g. 20G")
    p.add_argument("--format", choices=["qcow2", "raw"], default="qcow2")
    p = leaf(g, "resize", "Grow a volume", volume_resize)
    p.add_argument("volume")
    p.add_argument("size")
    leaf(g, "show", "Show a volume", _show("volumes")).add_argument("ref")
    leaf(g, "delete", "Delete volumes", _deleter("volumes", False)).add_argument("refs", nargs="+")

    g = group(sub, "image", "Disk images and ISOs", aliases=["images"])
    leaf(g, "list", "List images", image_list).add_argument("--kind", choices=["disk", "iso"])
    p = leaf(g, "create", "Register an image", image_create)
    p.add_argument("name")
    p.add_argument("--kind", choices=["disk", "iso"], default="disk")
    p.add_argument("--pool", required=True)
    p.add_argument(
        "--source-url",
        dest="source_url",
        help="http(s) URL a host fetches it from (or, admin only, file:// inside a pool root)",
    )
    p.add_argument("--sha256")
    leaf(g, "show", "Show an image", _show("images")).add_argument("ref")
    leaf(g, "delete", "Delete images", _deleter("images", False)).add_argument("refs", nargs="+")

    g = group(sub, "network", "Networks", aliases=["networks"])
    leaf(g, "list", "List networks", network_list)
    p = leaf(g, "create", "Create a network", network_create)
    p.add_argument("name")
    p.add_argument("--type", choices=["overlay", "vlan", "isolated", "bridge"],
                   help="default: overlay (bridge when --bridge is given)")  # fmt: skip
    p.add_argument("--cidr", help="the subnet, e.g. 10.60.0.0/24 (overlay, vlan, isolated)")
    p.add_argument("--gateway", help="default: the subnet's first address; 'none': no gateway")
    p.add_argument("--vlan", type=int, help="the tag of a vlan network")
    p.add_argument("--bridge", help="the Linux bridge of a bridge network")
    p.add_argument("--no-dhcp", action="store_true")
    p.add_argument("--no-dns", action="store_true")
    leaf(g, "show", "Show a network", _show("networks")).add_argument("ref")
    leaf(g, "delete", "Delete networks", _deleter("networks", True)).add_argument("refs", nargs="+")

    g = group(sub, "security-group", "Security groups", aliases=["security-groups", "sg"])
    leaf(g, "list", "List security groups", sg_list)
    rule_help = "PROTO[:PORT[-PORT]][@CIDR|@group:NAME], e.g. tcp:443, icmp; repeatable"
    p = leaf(g, "create", "Create a security group", sg_create)
    p.add_argument("name")
    p.add_argument("--rule", action="append", default=[], help=rule_help)
    p = leaf(g, "set-rules", "Replace a security group's rules", sg_set_rules)
    p.add_argument("name")
    p.add_argument("--rule", action="append", default=[], help=rule_help)
    leaf(g, "show", "Show a security group", _show("security_groups")).add_argument("ref")
    leaf(g, "delete", "Delete security groups", _deleter("security_groups", True)).add_argument(
        "refs", nargs="+"
    )
