"""The one module that imports libvirt: connections, the event loop, and the
translation of libvirt's errors, states and events into ours.

Everything above this module sees plain strings and ``HypervisorError``s.
Every libvirt call goes through ``_call`` (or the ``translated`` context), which
turns a ``libvirtError`` into the matching subclass, keeping libvirt's message
in ``details["libvirt"]`` and its numeric code in ``details["libvirt_code"]``.

Libvirt's event loop: ``ensure_event_loop()`` registers libvirt's default
implementation once per process and runs it in a daemon thread
("libvirt-events"). The embedded QEMU driver needs it for its monitor I/O, and
lifecycle callbacks run on it, so callbacks must be quick (hand off and return).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

# libvirt logs warnings (and, embedded, its drivers' info lines) to stderr;
# errors reach us as exceptions. Read once, when the library initializes.
os.environ.setdefault("LIBVIRT_LOG_OUTPUTS", "4:stderr")

import libvirt
import libvirt_qemu

from hypervisor import errors as E

T = TypeVar("T")

_loop_lock = threading.Lock()
_loop_thread: threading.Thread | None = None

# Silence libvirt's default handler, which prints every error to stderr: ours
# are raised as exceptions with the same message.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and run it in a thread (once per process)."""
    global _loop_thread
    with _loop_lock:
        if _loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        _loop_thread = threading.Thread(target=run, name="libvirt-events", daemon=True)
        _loop_thread.start()


# -- error translation ------------------------------------------------------------

_CODE_MAP: dict[int, type[E.HypervisorError]] = {
    libvirt.VIR_ERR_NO_DOMAIN: E.DomainNotFound,
    libvirt.VIR_ERR_DOM_EXIST: E.DomainExists,
    libvirt.VIR_ERR_OPERATION_INVALID: E.InvalidState,
    libvirt.VIR_ERR_NO_STORAGE_POOL: E.PoolNotFound,
    libvirt.VIR_ERR_NO_STORAGE_VOL: E.VolumeNotFound,
    libvirt.VIR_ERR_STORAGE_VOL_EXIST: E.VolumeExists,
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT: E.SnapshotNotFound,
    libvirt.VIR_ERR_OPERATION_TIMEOUT: E.OperationTimeout,
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE: E.OperationTimeout,
    libvirt.VIR_ERR_NO_SUPPORT: E.Unsupported,
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED: E.Unsupported,
    libvirt.VIR_ERR_CONFIG_UNSUPPORTED: E.Unsupported,
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: E.Unsupported,
    libvirt.VIR_ERR_XML_ERROR: E.InvalidSpec,
    libvirt.VIR_ERR_XML_DETAIL: E.InvalidSpec,
    libvirt.VIR_ERR_INVALID_ARG: E.InvalidSpec,
    libvirt.VIR_ERR_NO_CONNECT: E.ConnectionFailed,
    libvirt.VIR_ERR_INVALID_CONN: E.ConnectionFailed,
    libvirt.VIR_ERR_RPC: E.ConnectionFailed,
}


def translate(err: Exception, what: str) -> E.HypervisorError:
    """Our exception for a libvirt error (``what`` says what we were doing)."""
    if not isinstance(err, libvirt.libvirtError):
        return E.OperationFailed(f"{what}: {err}", libvirt=str(err))
    code = err.get_error_code() or 0
    msg = err.get_error_message() or str(err)
    cls = _CODE_MAP.get(code, E.OperationFailed)
    if code == libvirt.VIR_ERR_OPERATION_FAILED and "already exists" in msg:
        cls = E.DomainExists
    return cls(f"{what}: {msg}", libvirt=msg, libvirt_code=code)


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    try:
        yield
    except libvirt.libvirtError as e:
        raise translate(e, what) from None


def _call(what: str, fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except libvirt.libvirtError as e:
        raise translate(e, what) from None


# -- states and events as strings ----------------------------------------------

STATE_NAMES = {
    libvirt.VIR_DOMAIN_NOSTATE: "stopped",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "running",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutting_down",
    libvirt.VIR_DOMAIN_SHUTOFF: "stopped",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "paused",
}

_REASONS: dict[int, dict[int, str]] = {
    libvirt.VIR_DOMAIN_RUNNING: {
        libvirt.VIR_DOMAIN_RUNNING_BOOTED: "booted",
        libvirt.VIR_DOMAIN_RUNNING_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_RUNNING_RESTORED: "restored",
        libvirt.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_RUNNING_UNPAUSED: "unpaused",
        libvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED: "migration_canceled",
        libvirt.VIR_DOMAIN_RUNNING_WAKEUP: "wakeup",
        libvirt.VIR_DOMAIN_RUNNING_CRASHED: "crashed",
    },
    libvirt.VIR_DOMAIN_PAUSED: {
        libvirt.VIR_DOMAIN_PAUSED_USER: "user",
        libvirt.VIR_DOMAIN_PAUSED_MIGRATION: "migration",
        libvirt.VIR_DOMAIN_PAUSED_SAVE: "save",
        libvirt.VIR_DOMAIN_PAUSED_DUMP: "dump",
        libvirt.VIR_DOMAIN_PAUSED_IOERROR: "io_error",
        libvirt.VIR_DOMAIN_PAUSED_WATCHDOG: "watchdog",
        libvirt.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_PAUSED_SHUTTING_DOWN: "shutting_down",
        libvirt.VIR_DOMAIN_PAUSED_SNAPSHOT: "snapshot",
        libvirt.VIR_DOMAIN_PAUSED_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_PAUSED_STARTING_UP: "starting_up",
        libvirt.VIR_DOMAIN_PAUSED_POSTCOPY: "postcopy",
    },
    libvirt.VIR_DOMAIN_SHUTOFF: {
        libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN: "unknown",
        libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN: "shutdown",
        libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED: "destroyed",
        libvirt.VIR_DOMAIN_SHUTOFF_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_SHUTOFF_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_SHUTOFF_SAVED: "saved",
        libvirt.VIR_DOMAIN_SHUTOFF_FAILED: "failed",
        libvirt.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_SHUTOFF_DAEMON: "daemon",
    },
    libvirt.VIR_DOMAIN_CRASHED: {libvirt.VIR_DOMAIN_CRASHED_PANICKED: "panicked"},
}

EVENT_NAMES = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: "defined",
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: "undefined",
    libvirt.VIR_DOMAIN_EVENT_STARTED: "started",
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "suspended",
    libvirt.VIR_DOMAIN_EVENT_RESUMED: "resumed",
    libvirt.VIR_DOMAIN_EVENT_STOPPED: "stopped",
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
    libvirt.VIR_DOMAIN_EVENT_CRASHED: "crashed",
}

_EVENT_DETAILS: dict[int, dict[int, str]] = {
    libvirt.VIR_DOMAIN_EVENT_STOPPED: {
        libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: "shutdown",
        libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: "destroyed",
        libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: "crashed",
        libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED: "saved",
        libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: "failed",
        libvirt.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: "from_snapshot",
    },
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: {
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED: "paused",
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_IOERROR: "io_error",
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG: "watchdog",
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_RESTORED: "restored",
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR: "api_error",
    },
    libvirt.VIR_DOMAIN_EVENT_STARTED: {
        libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED: "booted",
        libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED: "migrated",
        libvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED: "restored",
        libvirt.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT: "from_snapshot",
        libvirt.VIR_DOMAIN_EVENT_STARTED_WAKEUP: "wakeup",
    },
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: {
        libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED: "finished",
        libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST: "guest",
        libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_HOST: "host",
    },
    libvirt.VIR_DOMAIN_EVENT_CRASHED: {libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED: "panicked"},
}


def state_names(state: int, reason: int) -> tuple[str, str]:
    return STATE_NAMES.get(state, "unknown"), _REASONS.get(state, {}).get(reason, "unknown")


# -- wrappers -----------------------------------------------------------------


class Domain:
    """One libvirt domain; every method raises HypervisorError subclasses."""

    def __init__(self, dom: Any) -> None:
        self._d = dom

    @property
    def name(self) -> str:
        return str(self._d.name())

    def state(self) -> tuple[str, str]:
        st, reason = _call(f"state of {self.name}", self._d.state)
        return state_names(st, reason)

    def is_active(self) -> bool:
        return bool(_call(f"state of {self.name}", self._d.isActive))

    def xml(self, inactive: bool = False) -> str:
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        return str(_call(f"XML of {self.name}", self._d.XMLDesc, flags))

    def start(self) -> None:
        _call(f"start {self.name}", self._d.create)

    def _with_flag_fallback(self, what: str, fn: Callable[..., Any], flag: int) -> None:
        """Call ``fn(flag)``; a driver that does not know the flag (the test driver)
        gets ``fn(0)``, its default method."""
        try:
            fn(flag)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_INVALID_ARG and "flags" in str(e):
                _call(what, fn, 0)
            else:
                raise translate(e, what) from None

    def qmp(self, command: str, **arguments: Any) -> Any:
        """One QMP command through libvirt's monitor (live migration between two
        embedded drivers, which libvirt's migration API cannot join): the
        ``return`` value, or OperationFailed with QEMU's error description."""
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        what = f"{command} on {self.name}"
        raw = _call(what, libvirt_qemu.qemuMonitorCommand, self._d, json.dumps(msg), 0)
        reply = json.loads(raw)
        if "error" in reply:
            desc = reply["error"].get("desc", str(reply["error"]))
            raise E.OperationFailed(f"{what}: {desc}", qmp=reply["error"])
        return reply.get("return")

    def shutdown_acpi(self) -> None:
        flag = libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN
        self._with_flag_fallback(f"shut down {self.name}", self._d.shutdownFlags, flag)

    def destroy(self) -> None:
        _call(f"force stop {self.name}", self._d.destroy)

    def reboot(self) -> None:
        flag = libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN
        self._with_flag_fallback(f"reboot {self.name}", self._d.reboot, flag)

    def reset(self) -> None:
        _call(f"reset {self.name}", self._d.reset, 0)

    def suspend(self) -> None:
        _call(f"pause {self.name}", self._d.suspend)

    def resume(self) -> None:
        _call(f"resume {self.name}", self._d.resume)

    def undefine(self) -> None:
        flags = (
            libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
            | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
        )
        try:
            self._d.undefineFlags(flags)
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_INVALID_ARG or "flags" not in str(e):
                raise translate(e, f"undefine {self.name}") from None
            # The test driver knows fewer flags; it keeps no NVRAM or checkpoints.
            flags = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            _call(f"undefine {self.name}", self._d.undefineFlags, flags)

    def attach_device(self, xml: str, live: bool) -> None:
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0)
        _call(f"attach a device to {self.name}", self._d.attachDeviceFlags, xml, flags)

    def detach_device_alias(self, alias: str, live: bool) -> None:
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0)
        _call(f"detach {alias} from {self.name}", self._d.detachDeviceAlias, alias, flags)

    def detach_device_config(self, xml: str) -> None:
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        _call(f"detach a device from {self.name}", self._d.detachDeviceFlags, xml, flags)

    def set_metadata(self, xml: str, key: str, uri: str, live: bool) -> None:
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0)
        _call(
            f"set metadata of {self.name}",
            self._d.setMetadata,
            libvirt.VIR_DOMAIN_METADATA_ELEMENT,
            xml,
            key,
            uri,
            flags,
        )

    # snapshots
    def snapshot_create(self, xml: str) -> str:
        snap = _call(f"snapshot {self.name}", self._d.snapshotCreateXML, xml, 0)
        return str(snap.getName())

    def snapshot_list(self) -> list[dict[str, Any]]:
        out = []
        for s in _call(f"list snapshots of {self.name}", self._d.listAllSnapshots, 0):
            out.append(
                {"name": s.getName(), "xml": s.getXMLDesc(0), "current": bool(s.isCurrent())}
            )
        return out

    def _snapshot(self, name: str) -> Any:
        return _call(f"snapshot {name!r} of {self.name}", self._d.snapshotLookupByName, name, 0)

    def snapshot_revert(self, name: str, running: bool | None = None) -> None:
        flags = 0
        if running is True:
            flags = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
        elif running is False:
            flags = libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
        snap = self._snapshot(name)
        _call(f"revert {self.name} to {name!r}", self._d.revertToSnapshot, snap, flags)

    def snapshot_delete(self, name: str) -> None:
        snap = self._snapshot(name)
        _call(f"delete snapshot {name!r} of {self.name}", snap.delete, 0)


class Pool:
    def __init__(self, pool: Any) -> None:
        self._p = pool

    @property
    def name(self) -> str:
        return str(self._p.name())

    def xml(self) -> str:
        return str(_call(f"XML of pool {self.name}", self._p.XMLDesc, 0))

    def is_active(self) -> bool:
        return bool(_call(f"state of pool {self.name}", self._p.isActive))

    def build(self) -> None:
        _call(f"build pool {self.name}", self._p.build, 0)

    def start(self) -> None:
        _call(f"start pool {self.name}", self._p.create, 0)

    def set_autostart(self) -> None:
        _call(f"autostart pool {self.name}", self._p.setAutostart, 1)

    def refresh(self) -> None:
        _call(f"refresh pool {self.name}", self._p.refresh, 0)

    def info(self) -> dict[str, int]:
        _state, cap, alloc, avail = _call(f"info of pool {self.name}", self._p.info)
        return {"capacity": cap, "allocation": alloc, "available": avail}

    def volume(self, name: str) -> Volume:
        return Volume(
            _call(f"volume {name!r} in pool {self.name}", self._p.storageVolLookupByName, name)
        )

    def volume_names(self) -> list[str]:
        return [str(n) for n in _call(f"volumes of {self.name}", self._p.listVolumes)]

    def volumes(self) -> list[Volume]:
        return [Volume(v) for v in _call(f"volumes of {self.name}", self._p.listAllVolumes, 0)]

    def create_volume(self, xml: str) -> Volume:
        return Volume(_call(f"create a volume in {self.name}", self._p.createXML, xml, 0))

    def clone_volume(self, xml: str, source: Volume) -> Volume:
        return Volume(
            _call(f"clone a volume in {self.name}", self._p.createXMLFrom, xml, source._v, 0)
        )

    def destroy(self) -> None:
        _call(f"stop pool {self.name}", self._p.destroy)

    def undefine(self) -> None:
        _call(f"undefine pool {self.name}", self._p.undefine)


class Volume:
    def __init__(self, vol: Any) -> None:
        self._v = vol

    @property
    def name(self) -> str:
        return str(self._v.name())

    @property
    def path(self) -> str:
        return str(_call(f"path of volume {self.name}", self._v.path))

    def xml(self) -> str:
        return str(_call(f"XML of volume {self.name}", self._v.XMLDesc, 0))

    def info(self) -> dict[str, int]:
        _t, cap, alloc = _call(f"info of volume {self.name}", self._v.info)
        return {"capacity": cap, "allocation": alloc}

    def resize(self, size_bytes: int) -> None:
        _call(f"resize volume {self.name}", self._v.resize, size_bytes, 0)

    def delete(self) -> None:
        _call(f"delete volume {self.name}", self._v.delete, 0)

    def upload(self, conn: Connection, chunks: Iterator[bytes], length: int) -> None:
        """Stream bytes into the volume (the pool API's way to write a volume)."""
        stream = _call("open a stream", conn._c.newStream, 0)
        try:
            _call(f"upload into {self.name}", self._v.upload, stream, 0, length, 0)
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    n = _call(f"upload into {self.name}", stream.send, bytes(view))
                    view = view[n:]
            _call(f"upload into {self.name}", stream.finish)
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise


LifecycleCallback = Callable[[str, str, str], None]


class Connection:
    """A libvirt connection. Thread-safe (libvirt's own locking)."""

    def __init__(self, uri: str) -> None:
        ensure_event_loop()
        self.uri = uri
        self._c = _call(f"connect to {uri}", libvirt.open, uri)
        self._callbacks: list[int] = []

    def close(self) -> None:
        for cid in self._callbacks:
            with contextlib.suppress(libvirt.libvirtError):
                self._c.domainEventDeregisterAny(cid)
        self._callbacks.clear()
        with contextlib.suppress(libvirt.libvirtError):
            self._c.close()

    def is_alive(self) -> bool:
        try:
            return bool(self._c.isAlive())
        except libvirt.libvirtError:
            return False

    # host
    def hostname(self) -> str:
        return str(_call("hostname", self._c.getHostname))

    def driver_type(self) -> str:
        return str(_call("driver type", self._c.getType))

    def lib_version(self) -> int:
        return int(_call("libvirt version", self._c.getLibVersion))

    def hv_version(self) -> int:
        return int(_call("hypervisor version", self._c.getVersion))

    def capabilities(self) -> str:
        return str(_call("capabilities", self._c.getCapabilities))

    def domain_capabilities(self, virttype: str) -> str | None:
        """The domain capabilities for ``virttype`` (kvm/qemu), None if it is unavailable."""
        try:
            return str(self._c.getDomainCapabilities(None, "x86_64", None, virttype, 0))
        except libvirt.libvirtError:
            return None

    # domains
    def domain(self, name: str) -> Domain:
        return Domain(_call(f"domain {name}", self._c.lookupByName, name))

    def domain_names(self) -> set[str]:
        return {str(d.name()) for d in _call("list domains", self._c.listAllDomains, 0)}

    def domains(self) -> list[Domain]:
        return [Domain(d) for d in _call("list domains", self._c.listAllDomains, 0)]

    def define(self, xml: str) -> Domain:
        return Domain(_call("define domain", self._c.defineXML, xml))

    def start_live(self, xml: str, paused: bool) -> Domain:
        """Start a domain from ``xml`` as its live config only: for a defined
        (persistent, inactive) domain of the same name and UUID, its stored
        definition stays as it was for the next start."""
        flags = libvirt.VIR_DOMAIN_START_PAUSED if paused else 0
        return Domain(_call("start domain", self._c.createXML, xml, flags))

    def on_lifecycle(self, cb: LifecycleCallback) -> None:
        """Call ``cb(domain_name, event, detail)`` on every lifecycle event (event-loop thread)."""

        def handler(_conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
            name = EVENT_NAMES.get(event, "unknown")
            cb(dom.name(), name, _EVENT_DETAILS.get(event, {}).get(detail, str(detail)))

        cid = _call(
            "register for domain events",
            self._c.domainEventRegisterAny,
            None,
            libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            handler,
            None,
        )
        self._callbacks.append(cid)

    # storage
    def supports_pools(self) -> bool:
        try:
            self._c.listAllStoragePools(0)
            return True
        except libvirt.libvirtError:
            return False

    def pool(self, name: str) -> Pool:
        return Pool(_call(f"pool {name}", self._c.storagePoolLookupByName, name))

    def pools(self) -> list[Pool]:
        return [Pool(p) for p in _call("list pools", self._c.listAllStoragePools, 0)]

    def define_pool(self, xml: str) -> Pool:
        return Pool(_call("define pool", self._c.storagePoolDefineXML, xml, 0))

    def volume_by_path(self, path: str) -> Volume:
        return Volume(_call(f"volume at {path}", self._c.storageVolLookupByPath, path))
