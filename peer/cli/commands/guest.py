"""guest commands: the VM's guest agent (docs/agent.md) — its report, exec,
files, passwords, SSH keys, time sync — and quiesced snapshots."""

from __future__ import annotations

import argparse
import base64
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, group, leaf
from peer.cli.commands.common import resolve
from peer.cli.errors import EXIT_USAGE, CliError
from peer.cli.output import emit


async def _vm_id(c: ApiClient, ref: str) -> str:
    return str((await resolve(c, "vms", ref))["id"])


async def guest_info(args: argparse.Namespace, c: ApiClient) -> None:
    vm = await resolve(c, "vms", args.vm)
    agent = dict((vm.get("status") or {}).get("agent") or {})
    if args.output != "json":
        booted = agent.get("booted_at")
        if booted:
            agent["uptime_s"] = round(time.time() - float(booted))
        for k in ("memory", "os"):
            if isinstance(agent.get(k), dict):
                agent[k] = ", ".join(f"{a}={b}" for a, b in agent[k].items())
        agent["ips"] = ", ".join(agent.get("ips") or []) or "-"
        agent["filesystems"] = ", ".join(
            f"{f['mount']} {f['used_mib']}/{f['total_mib']} MiB"
            for f in agent.get("filesystems") or []
        )
        agent.pop("interfaces", None)
        agent["capabilities"] = " ".join(agent.get("capabilities") or [])
    emit(agent, args.output)


async def guest_exec(args: argparse.Namespace, c: ApiClient) -> int:
    argv = [a for a in args.command if a != "--"] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise CliError(
            "give the command after --, e.g. quantix guest exec vm1 -- uname -a",
            exit_code=EXIT_USAGE,
        )
    body: dict[str, Any] = {"command": argv, "timeout_s": args.timeout}
    if args.stdin:
        body["stdin"] = sys.stdin.read()
    res = await c.post(f"/vms/{await _vm_id(c, args.vm)}/agent/exec", body)
    if args.output == "json":
        emit(res, "json")
    else:
        sys.stdout.write(res.get("stdout") or "")
        sys.stderr.write(res.get("stderr") or "")
        if res.get("truncated"):
            print("[output truncated]", file=sys.stderr)
        if res.get("timed_out"):
            print(f"[killed after {args.timeout:g} s]", file=sys.stderr)
    code = res.get("exit_code")
    return int(code) if isinstance(code, int) and 0 <= code < 256 else 1


async def guest_read(args: argparse.Namespace, c: ApiClient) -> None:
    vm = await _vm_id(c, args.vm)
    res = await c.post(f"/vms/{vm}/agent/files/read", {"path": args.path})
    data = base64.b64decode(res.get("data_b64") or "")
    if args.to:
        Path(args.to).write_bytes(data)
    elif args.output == "json":
        emit(res, "json")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


async def guest_write(args: argparse.Namespace, c: ApiClient) -> None:
    data = Path(args.src).read_bytes() if args.src else sys.stdin.buffer.read()
    body: dict[str, Any] = {"path": args.path, "data_b64": base64.b64encode(data).decode()}
    if args.mode:
        body["mode"] = int(args.mode, 8)
    res = await c.post(f"/vms/{await _vm_id(c, args.vm)}/agent/files/write", body)
    emit(res if args.output == "json" else f"wrote {args.path} ({len(data)} bytes)", args.output)


async def guest_password(args: argparse.Namespace, c: ApiClient) -> None:
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"new password for {args.user}: ")
    if not password:
        raise CliError("an empty password is not set", exit_code=EXIT_USAGE)
    body = {"user": args.user, "password": password}
    await c.post(f"/vms/{await _vm_id(c, args.vm)}/agent/password", body)
    print(f"password of {args.user} set")


async def guest_ssh_key(args: argparse.Namespace, c: ApiClient) -> None:
    keys = []
    for f in args.keyfiles:
        keys += [ln.strip() for ln in Path(f).read_text().splitlines() if ln.strip()]
    body = {"user": args.user, "keys": keys}
    res = await c.post(f"/vms/{await _vm_id(c, args.vm)}/agent/ssh-keys", body)
    emit(res if args.output == "json" else f"{res.get('added')} key(s) added", args.output)


async def guest_ping(args: argparse.Namespace, c: ApiClient) -> None:
    res = await c.get(f"/vms/{await _vm_id(c, args.vm)}/agent/ping")
    emit(res if args.output == "json" else f"agent answered in {res['rtt_ms']} ms", args.output)


async def guest_time_sync(args: argparse.Namespace, c: ApiClient) -> None:
    res = await c.post(f"/vms/{await _vm_id(c, args.vm)}/agent/time-sync")
    emit(res if args.output == "json" else f"clock stepped by {res.get('step_s')} s", args.output)


async def guest_snapshot(args: argparse.Namespace, c: ApiClient) -> None:
    body: dict[str, Any] = {"name": args.name, "quiesce": args.quiesce}
    res = await c.post(f"/vms/{await _vm_id(c, args.vm)}/snapshots", body)
    emit(res, args.output)


def register(sub: Sub) -> None:
    g = group(sub, "guest", "A VM's guest agent: report, exec, files, accounts")
    leaf(g, "info", "What the guest agent reports", guest_info).add_argument("vm")
    p = leaf(
        g, "exec", "Run a command in the guest (quantix guest exec VM -- CMD ARGS)", guest_exec
    )
    p.add_argument("vm")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before it is killed")
    p.add_argument("--stdin", action="store_true", help="pass this command's stdin to it")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = leaf(g, "read", "Print a file of the guest (at most 512 KiB)", guest_read)
    p.add_argument("vm")
    p.add_argument("path")
    p.add_argument("--to", help="write it to this local file instead")
    p = leaf(g, "write", "Write a file in the guest from stdin or --from", guest_write)
    p.add_argument("vm")
    p.add_argument("path")
    p.add_argument("--from", dest="src", help="local file (default: stdin)")
    p.add_argument("--mode", help="octal, e.g. 0644")
    p = leaf(g, "password", "Set a guest user's password (prompted)", guest_password)
    p.add_argument("vm")
    p.add_argument("user")
    p.add_argument("--stdin", action="store_true", help="read it from stdin instead")
    p = leaf(g, "ssh-key", "Add SSH public keys for a guest user", guest_ssh_key)
    p.add_argument("vm")
    p.add_argument("user")
    p.add_argument("keyfiles", nargs="+", help="files of OpenSSH public key lines")
    leaf(g, "ping", "Ping the guest agent", guest_ping).add_argument("vm")
    leaf(g, "time-sync", "Step the guest's clock to its host's", guest_time_sync).add_argument("vm")
    p = leaf(
        g,
        "snapshot",
        "Take a snapshot (--quiesce: freeze the guest's file systems)",
        guest_snapshot,
    )
    p.add_argument("vm")
    p.add_argument("name")
    p.add_argument("--quiesce", action="store_true")
