"""user, token and audit commands."""

from __future__ import annotations

import argparse
import getpass
import sys

from peer.cli.client import ApiClient
from peer.cli.commands import Sub, group, leaf
from peer.cli.errors import EXIT_USAGE, CliError
from peer.cli.output import col, emit, when

ROLES = ["admin", "operator", "viewer"]


def _new_password(args: argparse.Namespace, prompt: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise CliError("the passwords differ", exit_code=EXIT_USAGE)
    return first


async def user_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/users"),
        args.output,
        [
            col("name", "id"),
            col("role", "role"),
            col("failed logins", "failed_logins"),
            col("locked until", lambda u: when(u.get("locked_until"))),
        ],
    )


async def user_create(args: argparse.Namespace, c: ApiClient) -> None:
    pw = _new_password(args, f"Password for {args.name}: ")
    emit(
        await c.post("/users", {"name": args.name, "role": args.role, "password": pw}), args.output
    )


async def user_delete(args: argparse.Namespace, c: ApiClient) -> None:
    await c.delete(f"/users/{args.name}")
    print(f"deleted user {args.name} (and their tokens and sessions)")


async def user_role(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.patch(f"/users/{args.name}", {"role": args.role}), args.output)


async def user_unlock(args: argparse.Namespace, c: ApiClient) -> None:
    emit(await c.post(f"/users/{args.name}/unlock"), args.output)


async def user_passwd(args: argparse.Namespace, c: ApiClient) -> None:
    name = args.name or (await c.get("/auth/whoami"))["user"]
    body = {}
    if not args.name or args.current:
        body["current_password"] = (
            getpass.getpass("Current password: ")
            if not args.password_stdin
            else sys.stdin.readline().rstrip("\n")
        )
    body["new_password"] = _new_password(args, "New password: ")
    await c.post(f"/users/{name}/password", body)
    print(f"password of {name} changed; their browser sessions have ended")


async def token_list(args: argparse.Namespace, c: ApiClient) -> None:
    emit(
        await c.get_all("/tokens"),
        args.output,
        [
            col("id", "id"),
            col("name", "name"),
            col("user", "user"),
            col("role", "role"),
            col("expires", lambda t: when(t.get("expires_at"))),
            col("revoked", "revoked"),
        ],
    )


async def token_create(args: argparse.Namespace, c: ApiClient) -> None:
    body: dict[str, object] = {"name": args.name}
    if args.role:
        body["role"] = args.role
    if args.ttl:
        body["ttl_s"] = args.ttl
    if args.user:
        body["user"] = args.user
    tok = await c.post("/tokens", body)
    if args.output == "json":
        emit(tok, "json")
    else:
        print(f"token {tok['id']} ({tok['role']}) for {tok['user']} - shown once, store it now:")
        print(tok["token"])


async def token_revoke(args: argparse.Namespace, c: ApiClient) -> None:
    for tid in args.ids:
        await c.delete(f"/tokens/{tid}")
        print(f"revoked token {tid} (on every peer)")


async def audit_list(args: argparse.Namespace, c: ApiClient) -> None:
    page = await c.get("/audit", limit=args.limit, user=args.user)
    emit(
        page["items"],
        args.output,
        [
            col("when", lambda a: when(a.get("ts"))),
            col("user", "user"),
            col("action", "action"),
            col("from", "remote"),
            col("result", "result"),
        ],
    )


def register(sub: Sub) -> None:
    g = group(sub, "user", "Users (admins)", aliases=["users"])
    leaf(g, "list", "List users", user_list)
    p = leaf(g, "create", "Create a user", user_create)
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--password-stdin", action="store_true")
    leaf(g, "delete", "Delete a user", user_delete).add_argument("name")
    p = leaf(g, "role", "Change a user's role", user_role)
    p.add_argument("name")
    p.add_argument("role", choices=ROLES)
    leaf(g, "unlock", "Unlock an account locked by failed logins", user_unlock).add_argument("name")
    p = leaf(g, "passwd", "Change a password (yours by default)", user_passwd)
    p.add_argument("name", nargs="?")
    p.add_argument("--current", action="store_true", help="ask for the current password")
    p.add_argument("--password-stdin", action="store_true")

    g = group(sub, "token", "API tokens", aliases=["tokens"])
    leaf(g, "list", "List tokens", token_list)
    p = leaf(g, "create", "Create a token", token_create)
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, help="at most yours (default: yours)")
    p.add_argument("--ttl", type=int, help="seconds until it expires")
    p.add_argument("--user", help="admins: a token for another user")
    leaf(g, "revoke", "Revoke tokens", token_revoke).add_argument("ids", nargs="+")

    g = group(sub, "audit", "The audit trail (admins)")
    p = leaf(g, "list", "Recent mutating calls", audit_list)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--user")
