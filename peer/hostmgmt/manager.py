"""HostManager: the host-management logic behind the /host routes.

One per peer (``ctx.services["hostmgmt"]``). Timers run as tasks on the peer's
event loop, so they fire even when no console is running: the SSH timer turns
SSH off, a network change that was not confirmed in time is rolled back. Both
are re-armed from the state file when the peer starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from discovery.adopt import AdoptPayload
from peer.auth.audit import audit_ops, audit_value
from peer.auth.passwords import ahash_password, averify_password
from peer.auth.roles import Role
from peer.context import PeerContext
from peer.events.log import event_ops, event_value
from peer.hostmgmt import lockout, logbuffer, netconf, netlink, system, telemetry
from peer.hostmgmt.errors import ConsoleLocked, HostError
from peer.hostmgmt.ssh import SshState, duration, transition
from peer.hostmgmt.statefile import StateFile
from peer.pending import PendingStore
from raft.errors import StoreError
from raft.store import put

log = logging.getLogger("peer.hostmgmt")

DEFAULT_CONFIRM_S = 30
ADMIN_APPLY_TIMEOUT_S = 600.0
HOOK_WAIT_S = 20.0
STALE_FILE_WAIT_S = 10.0


class HostManager:
    def __init__(self, ctx: PeerContext, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.clock = clock
        self.state = StateFile(ctx.config.data_dir / "hostmgmt")
        self.mode = system.actions_mode(ctx.config.libvirt_uri)
        self.logs = logbuffer.install()
        self._ssh_task: asyncio.Task[None] | None = None
        self._net_task: asyncio.Task[None] | None = None
        self._admin_task: asyncio.Task[None] | None = None
        self._cpu_prev: tuple[int, int] | None = None
        self._started = False
        if self.state.get("hostname"):
            ctx.hostname = str(self.state.get("hostname"))

    # -- start-up -----------------------------------------------------------------
    def start(self) -> None:
        """Re-arm the timers (needs the running event loop). Idempotent."""
        if self._started:
            return
        self._started = True
        self._cpu_prev = telemetry.read_cpu_times()
        self._arm_ssh()
        if self.state.get("network_pending"):
            self._rollback_at_start()
        if self.state.get("pending_admin_hash"):
            self._admin_task = asyncio.create_task(self._apply_admin_password())

    def _rollback_at_start(self) -> None:
        """A change still unconfirmed when the peer stopped is rolled back now,
        before the API binds its address (which may be the one being restored).
        pyroute2's synchronous API cannot run on the event loop's thread."""
        pending = self.state.get("network_pending")
        errors: list[HostError] = []

        def restore() -> None:
            try:
                netlink.restore(pending["previous"])
            except HostError as e:
                errors.append(e)

        worker = threading.Thread(target=restore, name="hostmgmt-rollback")
        worker.start()
        worker.join(30)
        if errors:
            log.error("could not roll back the unconfirmed network change: %s", errors[0].message)
            return
        if pending["settings"].get("dns"):
            self._write_resolv(self._resolv_path(), pending.get("previous_dns") or [])
        self.state.set("network_pending", None)
        log.warning("network change unconfirmed when the peer stopped: rolled back at start")
        self._local_log("network.rollback", "peer", "ok", reason="unconfirmed at restart")

    # -- helpers ------------------------------------------------------------------
    @property
    def is_factory(self) -> bool:
        store = self.ctx.store
        return isinstance(store, PendingStore) and store.role == "factory"

    @property
    def setup_required(self) -> bool:
        return (
            self.is_factory
            and not self.state.get("setup_complete")
            and not self.state.get("local_password_hash")
        )

    def _local_log(self, action: str, user: str, result: str, **fields: Any) -> None:
        entry = {"ts": self.clock(), "user": user, "action": action, "result": result, **fields}
        self.state.log_line(entry)

    async def _cluster_audit(self, action: str, result: str, kind: str, message: str) -> None:
        """Audit record + event for something no API call did (a timer fired)."""
        user = f"peer@{self.ctx.node_id}"
        self._local_log(action, user, result, message=message)
        store = self.ctx.store
        ops = audit_ops(store, audit_value(user, action, "host", None, result, now=self.clock()))
        ops += event_ops(
            store,
            event_value(
                kind,
                "nodes",
                self.ctx.node_id,
                message,
                node=self.ctx.node_id,
                level="warning",
                user=user,
            ),
        )
        try:
            await store.commit(ops, timeout=3.0)
        except StoreError as e:
            log.warning("host audit not committed (%s): %s %s", e.code, action, result)

    async def mgmt_interface(self) -> str | None:
        # pyroute2's synchronous API runs its own event loop: never on the peer's.
        if self.ctx.config.mgmt_interface:
            return self.ctx.config.mgmt_interface
        return await asyncio.to_thread(netlink.interface_for, self.ctx.address)

    # -- status -------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        now = self.clock()
        cur = telemetry.read_cpu_times()
        cpu = telemetry.cpu_percent(self._cpu_prev, cur)
        self._cpu_prev = cur
        ssh = SshState.from_dict(self.state.get("ssh"))
        console = self.state.get("console") or {}
        until = lockout.locked_until(console, now)
        iface = await self.mgmt_interface()
        net: dict[str, Any] = {"interface": iface, "configured": self.state.get("network")}
        if iface:
            with contextlib.suppress(HostError):
                net.update(await asyncio.to_thread(netlink.read, iface))
        pending = self.state.get("network_pending")
        if pending:
            net["pending"] = {
                "settings": pending["settings"],
                "deadline": pending["deadline"],
                "remaining_s": round(max(0.0, pending["deadline"] - now), 1),
            }
        recorded = self.state.get("recorded") or []
        return {
            "hostname": self.ctx.hostname,
            "node_id": self.ctx.node_id,
            "mode": self.mode,
            "factory": self.is_factory,
            "setup_required": self.setup_required,
            "local_password": bool(self.state.get("local_password_hash")),
            "admin_password_pending": bool(self.state.get("pending_admin_hash")),
            "cpu_percent": cpu,
            "memory": telemetry.read_memory(),
            "uptime_s": telemetry.read_uptime(),
            "load": telemetry.read_loadavg(),
            "ssh": {
                "enabled": ssh.enabled,
                "mode": ssh.mode,
                "until": ssh.until,
                "remaining_s": None if (r := ssh.remaining(now)) is None else round(r, 1),
                "control": self.state.get("ssh_control", "none"),
            },
            "console": {
                "locked": until is not None,
                "locked_until": until,
                "remaining_s": None if until is None else round(until - now, 1),
                "attempts_left": lockout.attempts_left(console),
            },
            "network": net,
            "last_recorded": recorded[-1] if recorded else None,
            "now": now,
        }

    # -- console authentication ------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> dict[str, Any]:
        """Check an admin's password for the console; five failures lock it for 15 min."""
        now = self.clock()
        console = self.state.get("console") or {}
        until = lockout.locked_until(console, now)
        if until is not None:
            raise ConsoleLocked(
                f"the console is locked for {int(until - now) + 1} more seconds after "
                f"{lockout.MAX_FAILURES} wrong passwords"
            )
        rec = None if self.is_factory else self.ctx.store.get("users", username)
        local_hash = self.state.get("local_password_hash")
        if rec is not None:
            source = "cluster"
            ok = await averify_password(password, str(rec.value.get("password_hash") or ""))
            ok = ok and rec.value.get("role") == Role.ADMIN.label
        elif local_hash and username == "admin" and (self.is_factory or self._no_users()):
            source = "local"
            ok = await averify_password(password, str(local_hash))
        elif self.setup_required:
            raise HostError("this host has no admin yet: run the setup", code="setup_required")
        else:
            source = "cluster"
            ok = await averify_password(password, None)  # same time as a wrong password
        if ok:
            self.state.set("console", lockout.after_success())
            self._local_log("console.login", username, "ok", source=source)
            return {"user": username, "source": source}
        new = lockout.after_failure(console, now)
        self.state.set("console", new)
        self._local_log("console.login", username, "invalid_credentials")
        if new.get("locked_until"):
            raise ConsoleLocked(
                f"{lockout.MAX_FAILURES} wrong passwords: the console is locked for 15 minutes"
            )
        raise HostError(
            f"wrong user name or password ({lockout.attempts_left(new)} attempts left)",
            code="invalid_credentials",
            status=401,
        )

    def _no_users(self) -> bool:
        return not any(True for _ in self.ctx.store.scan("users"))

    def unlock_console(self, user: str) -> None:
        self.state.set("console", lockout.after_success())
        self._local_log("console.unlock", user, "ok")

    # -- SSH ----------------------------------------------------------------------------
    async def set_ssh(
        self, action: str, minutes: int | None, seconds: int | None, user: str
    ) -> dict[str, Any]:
        now = self.clock()
        length = None
        if action == "enable":
            length = duration(minutes, seconds, allow_seconds=self.mode == "record")
        new = transition(SshState.from_dict(self.state.get("ssh")), action, now, length)
        control = await asyncio.to_thread(system.set_sshd, new.enabled, self.mode)
        self.state.data["ssh_control"] = control
        self.state.set("ssh", dict(new.to_dict(), by=user))
        self._local_log(f"ssh.{action}", user, "ok", until=new.until, control=control)
        self._arm_ssh()
        ssh_status: dict[str, Any] = (await self.status())["ssh"]
        return ssh_status

    def _arm_ssh(self) -> None:
        if self._ssh_task is not None:
            self._ssh_task.cancel()
            self._ssh_task = None
        ssh = SshState.from_dict(self.state.get("ssh"))
        if ssh.mode == "timed":
            self._ssh_task = asyncio.create_task(self._ssh_timer(ssh))

    async def _ssh_timer(self, ssh: SshState) -> None:
        while not ssh.expired(self.clock()):
            left = ssh.remaining(self.clock()) or 0.0
            await asyncio.sleep(min(max(left, 0.05), 5.0))
        new = transition(ssh, "expire", self.clock())
        try:
            control = await asyncio.to_thread(system.set_sshd, False, self.mode)
        except HostError as e:
            log.error("could not stop sshd when the SSH timer ended: %s", e.message)
            control = "failed"
        self.state.data["ssh_control"] = control
        self.state.set("ssh", dict(new.to_dict(), by="timer"))
        self._ssh_task = None
        log.info("SSH timer ended: SSH disabled")
        await self._cluster_audit(
            "ssh.expired", "ok", "host.ssh_disabled", f"{self.ctx.hostname}: SSH timer ended"
        )

    # -- network ------------------------------------------------------------------------
    def _resolv_path(self) -> Path:
        if self.mode == "system":
            return Path("/etc/resolv.conf")
        return self.state.dir / "resolv.conf"  # the lab shares /etc with the machine

    async def apply_network(self, raw: dict[str, Any], confirm_s: int, user: str) -> dict[str, Any]:
        if self.state.get("network_pending"):
            raise HostError(
                "a network change is waiting for confirmation: confirm or revert it first",
                code="change_pending",
                status=409,
            )
        settings = netconf.validate(raw, await self.mgmt_interface())
        dev = netconf.device(settings)
        resolv = self._resolv_path()
        try:
            previous_dns = netconf.parse_resolv(resolv.read_text())
        except OSError:
            previous_dns = []
        if settings["mode"] == "static":
            snapshot = await asyncio.to_thread(
                netlink.apply_static,
                settings["interface"],
                settings["vlan"],
                settings["address"],
                settings["gateway"],
            )
        else:
            cur = await asyncio.to_thread(netlink.read, settings["interface"])
            snapshot = {
                "interface": settings["interface"],
                "device": settings["interface"],
                "addresses": cur["addresses"],
                "device_addresses": cur["addresses"],
                "gateway": cur["gateway"],
                "created_vlan": False,
            }
            how = await asyncio.to_thread(system.dhcp, dev, self.mode)
            if how == "recorded":
                self.state.record("dhcp", device=dev)
        if settings["dns"]:
            self._write_resolv(resolv, settings["dns"])
        now = self.clock()
        pending = {
            "settings": settings,
            "previous": snapshot,
            "previous_dns": previous_dns,
            "deadline": now + confirm_s,
            "by": user,
        }
        self.state.set("network_pending", pending)
        self._local_log("network.apply", user, "ok", settings=settings, confirm_s=confirm_s)
        self._arm_network()
        return {"pending": True, "deadline": pending["deadline"], "settings": settings}

    def _write_resolv(self, path: Path, dns: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".quantix-tmp")
        tmp.write_text(netconf.render_resolv(dns))
        tmp.replace(path)

    def _arm_network(self) -> None:
        if self._net_task is not None:
            self._net_task.cancel()
        self._net_task = asyncio.create_task(self._network_timer())

    async def _network_timer(self) -> None:
        while True:
            pending = self.state.get("network_pending")
            if not pending:
                return
            left = float(pending["deadline"]) - self.clock()
            if left <= 0:
                break
            await asyncio.sleep(min(left, 1.0))
        self._net_task = None
        await self.revert_network("timer", reason="not confirmed in time")

    def confirm_network(self, user: str) -> dict[str, Any]:
        pending = self.state.get("network_pending")
        if not pending:
            raise HostError("no network change is waiting", code="nothing_pending", status=409)
        if self._net_task is not None:
            self._net_task.cancel()
            self._net_task = None
        self.state.data["network"] = pending["settings"]
        self.state.set("network_pending", None)
        self._local_log("network.confirm", user, "ok")
        return {"confirmed": True, "settings": pending["settings"]}

    async def revert_network(self, user: str, reason: str = "reverted") -> dict[str, Any]:
        pending = self.state.get("network_pending")
        if not pending:
            raise HostError("no network change is waiting", code="nothing_pending", status=409)
        if self._net_task is not None and user != "timer":
            self._net_task.cancel()
            self._net_task = None
        await asyncio.to_thread(netlink.restore, pending["previous"])
        if pending["settings"].get("dns"):
            self._write_resolv(self._resolv_path(), pending.get("previous_dns") or [])
        self.state.set("network_pending", None)
        log.warning("network change rolled back (%s)", reason)
        if user == "timer":
            await self._cluster_audit(
                "network.rollback",
                "ok",
                "host.network_rolled_back",
                f"{self.ctx.hostname}: network change {reason}; previous settings restored",
            )
        else:
            self._local_log("network.revert", user, "ok")
        return {"reverted": True, "restored": pending["previous"]}

    # -- first boot, joining ---------------------------------------------------------------
    async def setup(self, body: dict[str, Any], user: str) -> dict[str, Any]:
        if not self.setup_required:
            raise HostError("this host is already set up", code="already_set_up", status=409)
        out: dict[str, Any] = {}
        if body.get("cluster") and await self._adoption_hook() is None:
            raise HostError("this host cannot join a cluster now", code="not_factory", status=409)
        hostname = body.get("hostname")
        if hostname and hostname != self.ctx.hostname:
            out["hostname"] = await asyncio.to_thread(system.set_hostname, hostname, self.mode)
            self.ctx.hostname = hostname
            self.state.data["hostname"] = hostname
        pw_hash = await ahash_password(body["password"])
        self.state.data["local_password_hash"] = pw_hash
        self.state.data["setup_complete"] = True
        cluster = body.get("cluster")
        if cluster:
            self.state.data["pending_admin_hash"] = pw_hash
        self.state.save()
        self._local_log("host.setup", user, "ok", hostname=self.ctx.hostname)
        if cluster:
            await self.join(cluster["name"], cluster["secret"], user)
            self._admin_task = asyncio.create_task(self._apply_admin_password())
            out["cluster"] = cluster["name"]
        return out

    async def join(self, name: str, secret: str, user: str) -> dict[str, Any]:
        """From factory state: join the cluster of that name (found by mDNS), or
        found it when no host of that name answers within the settle window."""
        hook = await self._adoption_hook()
        if hook is None:
            raise HostError(
                "this host already belongs to a cluster: leave it first",
                code="not_factory",
                status=409,
            )
        payload = AdoptPayload(
            cluster_name=name,
            cluster_id="console",
            sponsor=self.ctx.node_id,
            sponsor_fp="",  # nobody to pin: the person at the console typed the secret
            secret=secret,
        )
        try:
            await hook(payload)
        except ValueError as e:
            raise HostError(str(e), code="join_refused", status=409) from None
        self._local_log("host.join", user, "ok", cluster=name)
        return {"status": "joining", "cluster_name": name}

    async def _adoption_hook(self) -> Any:
        """The daemon's adoption hook. A factory host installs it once discovery
        runs (a second or two after the API): wait for it rather than refuse."""
        deadline = time.monotonic() + HOOK_WAIT_S
        while True:
            hook = self.ctx.services.get("accept_adoption")
            if hook is not None or not self.is_factory or time.monotonic() > deadline:
                return hook
            await asyncio.sleep(0.1)

    async def _apply_admin_password(self) -> None:
        """After the wizard founded a cluster: give its admin the wizard's password
        (instead of the random first password). Only if this host founded it."""
        deadline = time.monotonic() + ADMIN_APPLY_TIMEOUT_S
        stale = self.ctx.config.data_dir / "initial-admin-password"
        admin_seen: float | None = None
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            pw_hash = self.state.get("pending_admin_hash")
            if not pw_hash:
                return
            store = self.ctx.store
            if isinstance(store, PendingStore):
                continue
            meta = store.get("meta", "cluster")
            admin = store.get("users", "admin")
            if meta is None or admin is None:
                continue
            if meta.value.get("bootstrap_node") != self.ctx.node_id:
                log.info("joined an existing cluster: its admin keeps its password")
                self.state.set("pending_admin_hash", None)
                return
            # The daemon writes the random first password's file right after it
            # creates the admin: wait for it, so that it is not left behind.
            admin_seen = admin_seen or time.monotonic()
            if not stale.exists() and time.monotonic() - admin_seen < STALE_FILE_WAIT_S:
                continue
            # A new password also clears failed logins and a lock.
            value = dict(admin.value, password_hash=pw_hash, failed_logins=0, locked_until=None)
            try:
                await store.commit([put("users", "admin", value, expect=admin.version)])
            except StoreError as e:
                log.info("admin password not set yet (%s); retrying", e.code)
                continue
            self.state.set("pending_admin_hash", None)
            stale.unlink(missing_ok=True)  # that random password no longer works
            log.info("the setup wizard's password is now the cluster admin's")
            await self._cluster_audit(
                "host.setup.admin", "ok", "host.setup", "admin password set by the setup wizard"
            )
            return

    # -- services, power, shell, diagnostics -----------------------------------------------
    async def restart_service(self, name: str, user: str) -> dict[str, Any]:
        how = await asyncio.to_thread(system.restart_service, name, self.mode)
        if how == "recorded":
            self.state.record("restart", service=name, by=user)
        self._local_log("service.restart", user, "ok", service=name, how=how)
        return {"service": name, "how": how}

    async def power(self, action: str, user: str) -> dict[str, Any]:
        self._local_log(f"power.{action}", user, "requested", mode=self.mode)
        if self.mode == "record":
            self.state.record(action, by=user)
            return {"action": action, "how": "recorded", "mode": self.mode}
        await self._cluster_audit(
            f"power.{action}", "ok", "host.power", f"{self.ctx.hostname}: {action} from the console"
        )
        how = await asyncio.to_thread(system.power, action, self.mode)
        return {"action": action, "how": how, "mode": self.mode}

    def shell(self, event: str, user: str) -> dict[str, Any]:
        self._local_log(f"shell.{event}", user, "ok")
        log.warning("emergency shell %s at the console by %s", event, user)
        return {"event": event}

    def diagnostics(self, limit: int) -> dict[str, Any]:
        events = []
        for rec in self.ctx.store.scan("events"):
            if rec.value.get("level") in ("warning", "error"):
                events.append(rec.value)
        events.sort(key=lambda v: float(v.get("ts") or 0))
        return {
            "logs": self.logs.snapshot(limit),
            "events": events[-20:],
            "hardware": telemetry.read_hardware(),
            "mode": self.mode,
            "recorded": (self.state.get("recorded") or [])[-10:],
        }
