"""The ``/host`` routes: this host's own settings, for the console (DCUI).

Reads are open to any viewer. Changes are for the local root admin only (a
request over the peer's root-owned 0600 unix socket, see docs/api.md): they
change this machine, so they are made at its console, not over the network.
Every change is audited by the API guard (and, in factory state where nothing
can commit, in ``<data_dir>/hostmgmt/audit.log``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from peer.api.errors import ApiError, Forbidden
from peer.api.routes import ApiRequest, Reply, Routes
from peer.auth.roles import Role
from peer.context import PeerContext
from peer.hostmgmt.errors import HostError
from peer.hostmgmt.manager import DEFAULT_CONFIRM_S, HostManager

routes = Routes(tag="host")
T = TypeVar("T")

_OBJ: dict[str, Any] = {"type": "object", "additionalProperties": True}
_IPV4 = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"
AUTH = {
    "type": "object",
    "required": ["password"],
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 64, "default": "admin"},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
}
SSH = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": ["enable", "disable", "permanent"]},
        "minutes": {"type": "integer", "minimum": 5, "maximum": 120},
        "seconds": {
            "type": "integer",
            "minimum": 1,
            "maximum": 7200,
            "description": "lab and test hosts only (host actions recorded)",
        },
    },
}
NETWORK = {
    "type": "object",
    "required": ["mode"],
    "properties": {
        "mode": {"type": "string", "enum": ["dhcp", "static"]},
        "interface": {"type": "string", "maxLength": 15},
        "address": {"type": "string", "maxLength": 18, "description": "a.b.c.d/prefix"},
        "gateway": {"type": ["string", "null"], "maxLength": 15},
        "dns": {"type": "array", "items": {"type": "string", "pattern": _IPV4}, "maxItems": 3},
        "vlan": {"type": ["integer", "null"], "minimum": 1, "maximum": 4094},
        "confirm_s": {"type": "integer", "minimum": 5, "maximum": 600, "default": 30},
    },
}
SETUP = {
    "type": "object",
    "required": ["password"],
    "properties": {
        "hostname": {"type": "string", "pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
        "password": {"type": "string", "minLength": 8, "maxLength": 1024},
        "cluster": {
            "type": "object",
            "required": ["name", "secret"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
                "secret": {"type": "string", "minLength": 12, "maxLength": 256},
            },
        },
    },
}
JOIN = {
    "type": "object",
    "required": ["cluster_name", "secret"],
    "properties": {
        "cluster_name": {"type": "string", "pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
        "secret": {"type": "string", "minLength": 12, "maxLength": 256},
    },
}
SERVICE = {
    "type": "object",
    "required": ["service"],
    "properties": {"service": {"type": "string", "enum": ["peer", "libvirt", "ovs", "ssh"]}},
}
POWER = {
    "type": "object",
    "required": ["action"],
    "properties": {"action": {"type": "string", "enum": ["reboot", "shutdown"]}},
}
SHELL = {
    "type": "object",
    "required": ["event"],
    "properties": {"event": {"type": "string", "enum": ["opened", "closed"]}},
}


def manager(ctx: PeerContext) -> HostManager:
    mgr = ctx.services.get("hostmgmt")
    if not isinstance(mgr, HostManager):
        mgr = HostManager(ctx)
        ctx.services["hostmgmt"] = mgr
    mgr.start()
    return mgr


def host_routes(ctx: PeerContext) -> list[Routes]:
    """The route tables to hand to ``build_app``; starts the host manager (its
    timers) when called on the running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return [routes]  # no loop yet: the first request starts it
    manager(ctx)
    return [routes]


def _local(req: ApiRequest) -> HostManager:
    if req.principal.via != "local":
        raise Forbidden(
            "host settings are changed at the host's console (the local socket) only",
            code="local_only",
        )
    return manager(req.ctx)


async def _call(aw: Awaitable[T]) -> T:
    try:
        return await aw
    except HostError as e:
        raise _api_error(e) from None


def _api_error(e: HostError) -> ApiError:
    err = ApiError(e.message, code=e.code)
    err.status = e.status
    return err


def _sync(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except HostError as e:
        raise _api_error(e) from None


@routes.get("/host/status", role=Role.VIEWER, summary="This host: figures, SSH, network, console")
async def host_status(req: ApiRequest) -> Reply:
    """CPU and memory use, uptime, the SSH timer, the management interface and
    any network change waiting for confirmation, the console lock, factory state."""
    return Reply(await manager(req.ctx).status())


@routes.get(
    "/host/diagnostics",
    role=Role.VIEWER,
    summary="Recent peer logs with warning/error counts, hardware",
    query={"limit": {"type": "integer", "minimum": 1, "maximum": 300, "default": 50}},
)
async def host_diagnostics(req: ApiRequest) -> Reply:
    return Reply(manager(req.ctx).diagnostics(int(req.query["limit"])))


@routes.post(
    "/host/auth", role=Role.ADMIN, summary="Check an admin password at the console", body=AUTH
)
async def host_auth(req: ApiRequest) -> Reply:
    """Against the cluster's users (admin role) or, in factory state, the host's
    local password from the setup wizard. Five wrong passwords lock the console
    for 15 minutes (423 ``console_locked``); the count is kept by the peer."""
    mgr = _local(req)
    body = req.body
    return Reply(await _call(mgr.authenticate(body.get("username") or "admin", body["password"])))


@routes.post("/host/console/unlock", role=Role.ADMIN, summary="Lift the console lock", status=204)
async def host_console_unlock(req: ApiRequest) -> None:
    _local(req).unlock_console(req.user)


@routes.post(
    "/host/ssh",
    role=Role.ADMIN,
    summary="Enable SSH for a time, disable it, or make it permanent",
    body=SSH,
)
async def host_ssh(req: ApiRequest) -> Reply:
    """``enable`` needs ``minutes`` (5-120); the peer turns SSH off when the timer
    ends, whether or not a console is running."""
    b = req.body
    mgr = _local(req)
    return Reply(
        await _call(mgr.set_ssh(b["action"], b.get("minutes"), b.get("seconds"), req.user))
    )


@routes.post(
    "/host/network",
    role=Role.ADMIN,
    summary="Apply management network settings (rolled back unless confirmed)",
    body=NETWORK,
    status=202,
)
async def host_network(req: ApiRequest) -> Reply:
    """Applied at once; unless ``POST /host/network/confirm`` arrives within
    ``confirm_s`` seconds, the peer puts the previous settings back."""
    b = dict(req.body)
    confirm_s = int(b.pop("confirm_s", DEFAULT_CONFIRM_S))
    res = await _call(_local(req).apply_network(b, confirm_s, req.user))
    return Reply(res, status=202)


@routes.post("/host/network/confirm", role=Role.ADMIN, summary="Keep the new network settings")
async def host_network_confirm(req: ApiRequest) -> Reply:
    return Reply(_sync(_local(req).confirm_network, req.user))


@routes.post("/host/network/revert", role=Role.ADMIN, summary="Put the previous settings back now")
async def host_network_revert(req: ApiRequest) -> Reply:
    return Reply(await _call(_local(req).revert_network(req.user)))


@routes.post(
    "/host/setup", role=Role.ADMIN, summary="First-boot setup of a factory host", body=SETUP
)
async def host_setup(req: ApiRequest) -> Reply:
    """Hostname and the admin password; with ``cluster``, found (or join) that
    cluster, whose admin then gets this password if this host founded it."""
    return Reply(await _call(_local(req).setup(req.body, req.user)))


@routes.post(
    "/host/join",
    role=Role.ADMIN,
    summary="Join a cluster by name and secret (factory host)",
    body=JOIN,
    status=202,
)
async def host_join(req: ApiRequest) -> Reply:
    b = req.body
    return Reply(
        await _call(_local(req).join(b["cluster_name"], b["secret"], req.user)), status=202
    )


@routes.post("/host/services/restart", role=Role.ADMIN, summary="Restart a service", body=SERVICE)
async def host_service_restart(req: ApiRequest) -> Reply:
    return Reply(await _call(_local(req).restart_service(req.body["service"], req.user)))


@routes.post(
    "/host/power", role=Role.ADMIN, summary="Reboot or shut down this host", body=POWER, status=202
)
async def host_power(req: ApiRequest) -> Reply:
    """On a real host: ``systemctl reboot|poweroff``. On lab and test hosts the
    request is recorded and answered ``how: recorded``; nothing is executed."""
    return Reply(await _call(_local(req).power(req.body["action"], req.user)), status=202)


@routes.post("/host/shell", role=Role.ADMIN, summary="Log the emergency shell", body=SHELL)
async def host_shell(req: ApiRequest) -> Reply:
    return Reply(_sync(_local(req).shell, req.body["event"], req.user))
