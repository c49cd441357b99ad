"""login / logout / whoami / status and contexts."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from peer.auth.sessions import COOKIE
from peer.cli import config as cfgmod
from peer.cli.client import ApiClient, normalize_fingerprint, server_fingerprint
from peer.cli.commands import Sub, group, leaf
from peer.cli.config import Context
from peer.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from peer.cli.output import col, emit


def _normalize_url(url: str) -> str:
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CliError(f"{url!r} is not an https://host[:port] URL", exit_code=EXIT_USAGE)
    port = parts.port or (8443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _trust(args: argparse.Namespace, url: str) -> Context:
    """How to trust the peer: --insecure, --fingerprint, or (on a terminal) show
    the certificate's fingerprint and ask, like ssh does on first contact."""
    ctx = Context(url=url, insecure=args.insecure, socket=args.socket)
    if args.fingerprint:
        ctx.fingerprint = normalize_fingerprint(args.fingerprint)
    elif not args.insecure and url.startswith("https://") and not args.socket and args.trust:
        fp = server_fingerprint(url)
        print(
            f"The peer at {url} presents a certificate with sha256 fingerprint\n  {fp}",
            file=sys.stderr,
        )
        if not sys.stdin.isatty():
            raise CliError(
                "not a terminal: re-run with --fingerprint " + fp, exit_code=EXIT_UNREACHABLE
            )
        if input("Trust it and pin it for this context? [y/N] ").strip().lower() not in (
            "y",
            "yes",
        ):
            raise CliError("not trusted; nothing saved", exit_code=EXIT_UNREACHABLE)
        ctx.fingerprint = fp
    return ctx


async def login(args: argparse.Namespace, _unused: ApiClient | None = None) -> int:
    url = _normalize_url(args.url)
    ctx = _trust(args, url)
    user = args.user or (input("User [admin]: ").strip() if sys.stdin.isatty() else "") or "admin"
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {user}: ")
    async with ApiClient(ctx) as c:
        session, headers = await c.request(
            "POST", "/auth/login", {"username": user, "password": password}
        )
        # Trade the browser-style session for an API token, then end the session.
        cookie: SimpleCookie = SimpleCookie(headers.get("Set-Cookie", ""))
        if COOKIE not in cookie:
            raise CliError("the peer answered the login without a session cookie")
        c.extra_headers["Cookie"] = f"{COOKIE}={cookie[COOKIE].value}"
        c.extra_headers["X-CSRF-Token"] = session["csrf_token"]
        name = f"cli@{socket.gethostname()}"
        body: dict[str, Any] = {"name": name}
        if args.ttl:
            body["ttl_s"] = args.ttl
        tok = await c.post("/tokens", body)
        await c.request("POST", "/auth/logout")
    ctx.token, ctx.user = tok["token"], user
    cfg = cfgmod.load()
    cname = args.name or urlsplit(url).hostname or "default"
    cfg.contexts[cname] = ctx
    cfg.current = cname
    path = cfgmod.save(cfg)
    print(f"Logged in to {url} as {user} ({tok['role']}); context {cname!r} saved in {path}")
    return 0


async def logout(args: argparse.Namespace, client: ApiClient) -> int:
    me = await client.get("/auth/whoami")
    if me.get("token_id"):
        await client.delete(f"/tokens/{me['token_id']}")
    cfg = cfgmod.load()
    name = args.context or cfg.current
    if name in cfg.contexts:
        cfg.contexts[name].token = None
        cfgmod.save(cfg)
    print("Logged out: the token is revoked on every peer.")
    return 0


async def whoami(args: argparse.Namespace, client: ApiClient) -> None:
    emit(await client.get("/auth/whoami"), args.output)


async def status(args: argparse.Namespace, client: ApiClient) -> None:
    emit(await client.get("/peer"), args.output)


def context_list(args: argparse.Namespace) -> None:
    cfg = cfgmod.load()
    rows = [
        {
            "current": "*" if n == cfg.current else "",
            "name": n,
            "url": c.socket or c.url,
            "user": c.user,
            "logged_in": bool(c.token),
            "trust": "pinned" if c.fingerprint else ("insecure" if c.insecure else "system CAs"),
        }
        for n, c in sorted(cfg.contexts.items())
    ]
    emit(
        rows,
        args.output,
        [
            col("", "current"),
            col("name", "name"),
            col("url", "url"),
            col("user", "user"),
            col("logged in", "logged_in"),
            col("trust", "trust"),
        ],
    )


def context_use(args: argparse.Namespace) -> None:
    cfg = cfgmod.load()
    cfg.get(args.name)
    cfg.current = args.name
    cfgmod.save(cfg)
    print(f"Now using context {args.name!r}")


def context_delete(args: argparse.Namespace) -> None:
    cfg = cfgmod.load()
    cfg.get(args.name)
    del cfg.contexts[args.name]
    if cfg.current == args.name:
        cfg.current = next(iter(sorted(cfg.contexts)), None)
    cfgmod.save(cfg)
    print(
        f"Deleted context {args.name!r} (its token is not revoked: use 'quantix logout' for that)"
    )


def register(sub: Sub) -> None:
    p = leaf(
        sub, "login", "Log in to a peer and save a context with an API token", login, local=True
    )
    p.add_argument("url", help="https://PEER[:8443]")
    p.add_argument("--user", "-u")
    p.add_argument("--name", help="context name (default: the host)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--fingerprint", help="pin the peer certificate's sha256")
    p.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    p.add_argument(
        "--no-trust-prompt",
        dest="trust",
        action="store_false",
        help="do not ask about an unknown certificate (use the system CAs)",
    )
    p.add_argument("--socket", help="a local unix socket to talk to instead")
    p.add_argument("--ttl", type=int, help="token lifetime in seconds (default: no expiry)")
    leaf(sub, "logout", "Revoke this context's token", logout)
    leaf(sub, "whoami", "Who the current credentials belong to", whoami)
    leaf(sub, "status", "The status of the peer you talk to", status)
    ctx = group(sub, "context", "Saved contexts (peer URL + token)")
    leaf(ctx, "list", "List contexts", context_list, local=True)
    leaf(ctx, "use", "Switch the current context", context_use, local=True).add_argument("name")
    leaf(ctx, "delete", "Forget a context", context_delete, local=True).add_argument("name")
