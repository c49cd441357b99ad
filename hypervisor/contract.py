"""The driver contract: what the peer asks of a host's hypervisor.

Every method is blocking and thread-safe (call it from a worker thread, e.g.
``asyncio.to_thread``), takes and returns plain data or the small frozen types
below, and raises only ``HypervisorError`` subclasses. Each docstring says what
is left behind when the call fails: the rule is *nothing the call created*.

Methods a peer may serve to other peers (for the API on any peer to reach the
VM's host) are marked "RPC-able": their arguments and results are plain data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any

from hypervisor.errors import Unsupported
from hypervisor.spec import DiskSpec, VmSpec


@dataclass(frozen=True)
class DomainInfo:
    """A domain of ours as the hypervisor sees it."""

    vm_id: str
    name: str
    state: str  # running / paused / shutting_down / stopped / crashed
    reason: str  # libvirt's reason, e.g. "shutdown" (guest powered off), "io_error"
    epoch: int | None  # the placement epoch the domain was defined under
    vcpus: int
    memory_mib: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DomainEvent:
    """A lifecycle event: ``event`` is started/stopped/suspended/resumed/shutdown/
    crashed/defined/undefined, ``detail`` libvirt's detail (e.g. stopped/shutdown
    means the guest powered itself off, suspended/io_error a paused-on-I/O-error)."""

    vm_id: str
    event: str
    detail: str


@dataclass(frozen=True)
class VolumeInfo:
    pool: str
    name: str
    path: str
    capacity: int
    allocation: int
    format: str
    backing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


EventCallback = Callable[[DomainEvent], None]
ProgressCallback = Callable[[int, int | None], None]
# Why a URL (the source, or a redirect's target) may not be fetched, or None.
UrlCheck = Callable[[str], str | None]


class Driver(ABC):
    """A host's hypervisor and storage, addressed by VM id."""

    # -- host ---------------------------------------------------------------
    @abstractmethod
    def host_info(self) -> dict[str, Any]:
        """URI, versions, accelerator (KVM or TCG and why), pools. RPC-able."""

    @abstractmethod
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` on every lifecycle event of our domains; returns an
        unsubscribe function. Callbacks run on libvirt's event thread: return fast."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (running domains keep running)."""

    # -- domains --------------------------------------------------------------
    @abstractmethod
    def list_domains(self) -> list[DomainInfo]:
        """Every domain of ours on this host (running or not). RPC-able."""

    @abstractmethod
    def domain_info(self, vm_id: str) -> DomainInfo:
        """One domain's state; DomainNotFound if there is none. RPC-able."""

    @abstractmethod
    def create(self, spec: VmSpec, epoch: int = 0) -> DomainInfo:
        """Make the VM's disks (missing volumes, cloned from their image when
        given), its cloud-init seed and its per-VM directory, then define the
        domain (not started). On failure: the domain is not defined, and every
        volume, file and directory this call made is removed; volumes that
        existed before are untouched. DomainExists if already defined."""

    @abstractmethod
    def start(self, vm_id: str) -> DomainInfo:
        """Start a defined domain. On failure the domain stays defined and stopped
        (libvirt's message in the error); InvalidState if already running."""

    @abstractmethod
    def shutdown(self, vm_id: str, timeout: float = 60.0) -> str:
        """ACPI power-button, wait up to ``timeout`` s, then force off. Returns
        "shutdown" (the guest obeyed), "forced" or "already_stopped". RPC-able."""

    @abstractmethod
    def wait_stopped(self, vm_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the domain to stop by itself (a guest
        agent's poweroff); True once it is inactive (or gone). Changes nothing."""

    @abstractmethod
    def stop(self, vm_id: str) -> None:
        """Force off (pull the plug); a stopped domain is left as it is. RPC-able."""

    @abstractmethod
    def reboot(self, vm_id: str) -> None:
        """ACPI reboot request. RPC-able."""

    @abstractmethod
    def pause(self, vm_id: str) -> None:
        """Pause the vCPUs. RPC-able."""

    @abstractmethod
    def resume(self, vm_id: str) -> None:
        """Resume paused vCPUs. RPC-able."""

    @abstractmethod
    def delete(
        self,
        vm_id: str,
        remove_disks: bool = False,
        keep_volumes: Collection[tuple[str, str]] = (),
    ) -> None:
        """Force off, undefine (with snapshot metadata), remove the VM's directory
        (sockets, serial log, cloud-init seed) and, when asked, its volumes
        (except the (pool, name) pairs in ``keep_volumes``).
        Missing pieces are skipped, so a retry after a partial failure finishes
        the job. DomainNotFound only if nothing of the VM was found."""

    @abstractmethod
    def set_epoch(self, vm_id: str, epoch: int) -> None:
        """Record the placement epoch the domain runs under (in its metadata)."""

    @abstractmethod
    def resize(self, vm_id: str, vcpus: int | None, memory_mib: int | None) -> DomainInfo:
        """Change vCPUs and/or memory of a stopped domain (InvalidState if it
        runs). On failure the definition is unchanged. RPC-able."""

    # -- disks ------------------------------------------------------------------
    @abstractmethod
    def list_disks(self, vm_id: str) -> list[dict[str, Any]]:
        """The VM's managed disks in its definition: [{"id", "target", "bus",
        "path", "pool", "volume"}]. RPC-able."""

    @abstractmethod
    def attach_disk(self, vm_id: str, disk: DiskSpec) -> dict[str, Any]:
        """Create the disk's volume if missing and attach it (live when running,
        and in the definition). Returns {"id", "target", "path"}. On failure the
        domain is as before and a volume this call created is removed. RPC-able."""

    @abstractmethod
    def detach_disk(
        self, vm_id: str, disk_id: str, remove_volume: bool = False, timeout: float = 20.0
    ) -> None:
        """Detach a disk (live: waits up to ``timeout`` s for the guest to release
        it) and, when asked, delete its volume. RPC-able."""

    # -- snapshots --------------------------------------------------------------
    @abstractmethod
    def snapshot_create(self, vm_id: str, name: str, description: str = "") -> dict[str, Any]:
        """An internal snapshot (disks, and memory when running). RPC-able."""

    @abstractmethod
    def snapshot_list(self, vm_id: str) -> list[dict[str, Any]]:
        """[{"name", "description", "created_at", "state", "current"}]. RPC-able."""

    @abstractmethod
    def snapshot_revert(self, vm_id: str, name: str) -> DomainInfo:
        """Revert to a snapshot (running again if it was taken running). RPC-able."""

    @abstractmethod
    def snapshot_delete(self, vm_id: str, name: str) -> None:
        """Delete a snapshot. RPC-able."""

    # -- consoles -----------------------------------------------------------------
    @abstractmethod
    def console_paths(self, vm_id: str) -> dict[str, str | None]:
        """{"vnc_socket", "serial_log", "agent_socket", "serial_pty"} on this host."""

    @abstractmethod
    def read_serial_log(self, vm_id: str, offset: int = 0, limit: int = 65536) -> dict[str, Any]:
        """{"data": str, "offset": next offset, "size": file size}. RPC-able."""

    # -- live migration (see hypervisor.migration) -----------------------------------
    # Not abstract: a driver that cannot migrate live says so (Unsupported) and
    # the peer moves the VM cold instead.
    def start_incoming(self, vm_id: str, listen_host: str, port: int = 0) -> str:
        """Start the *defined* domain of ``vm_id`` paused, as the destination of a
        live migration listening on ``listen_host`` (``port``, or one the kernel
        picks when 0); returns the URI the source sends to. Its stored definition
        is unchanged. On failure (the port is taken, among others) the domain is
        stopped again (still defined)."""
        raise Unsupported("this driver cannot receive a live migration")

    def incoming_status(self, vm_id: str) -> str:
        """The destination side of a live migration: ``receiving`` (listening or
        receiving), ``completed`` (the whole guest is here, paused: resume it once
        the source's copy is gone), ``failed``, ``none`` (an ordinary domain) or
        ``stopped`` (not running)."""
        raise Unsupported("this driver cannot receive a live migration")

    def migrate_out(
        self,
        vm_id: str,
        uri: str,
        on_progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        timeout: float = 600.0,
    ) -> dict[str, Any]:
        """Live-migrate the running domain of ``vm_id`` to ``uri``; returns QEMU's
        figures (``total-time``, ``downtime`` ms, ...). On return the local guest is
        paused for good and the destination's holds it; on failure (MigrationFailed)
        the local guest runs on."""
        raise Unsupported("this driver cannot migrate live")

    # -- storage --------------------------------------------------------------------
    @abstractmethod
    def ensure_pool(self, name: str, path: str) -> dict[str, Any]:
        """Define, build, start and autostart a directory pool (idempotent)."""

    @abstractmethod
    def pool_info(self, name: str) -> dict[str, Any]:
        """{"name", "path", "capacity", "allocation", "available", "active"}. RPC-able."""

    @abstractmethod
    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        """Volumes of a pool. RPC-able."""

    @abstractmethod
    def create_volume(
        self,
        pool: str,
        name: str,
        size_bytes: int | None,
        backing: str | None = None,
        fmt: str = "qcow2",
    ) -> VolumeInfo:
        """A new volume (a qcow2 overlay of ``backing`` when given). On failure
        nothing is left in the pool. RPC-able."""

    @abstractmethod
    def resize_volume(self, pool: str, name: str, size_bytes: int) -> VolumeInfo:
        """Grow a volume (shrinking is refused). RPC-able."""

    @abstractmethod
    def clone_volume(self, pool: str, source: str, name: str) -> VolumeInfo:
        """A qcow2 overlay whose backing file is ``source`` (same pool). RPC-able."""

    @abstractmethod
    def delete_volume(self, pool: str, name: str) -> None:
        """Delete a volume. RPC-able."""

    @abstractmethod
    def import_image(
        self,
        pool: str,
        name: str,
        source: str,
        sha256: str | None = None,
        progress: ProgressCallback | None = None,
        url_check: UrlCheck | None = None,
    ) -> dict[str, Any]:
        """Copy a file or http(s) URL into a new volume through the pool API,
        hashing as it goes. Returns {"pool", "name", "path", "size_bytes",
        "sha256", "format", "kind"}. On failure (bad source, checksum mismatch,
        a URL or redirect ``url_check`` refuses) the half-written volume is
        deleted. The caller has checked a file source's path; this opens it."""
