"""The libvirt implementation of the driver contract.

Connections: ``qemu:///system`` (libvirtd on a real host), ``qemu:///embed?root=DIR``
(the embedded QEMU driver in this process: the lab and tests; storage then goes
to a private libvirtd, see ``hypervisor.storaged``) and ``test:///default``
(libvirt's in-memory test driver, for fast unit tests).

Domains are named ``qx-<vm id>``; each VM has a directory ``run_dir/<vm id>``
with its VNC and agent sockets, serial log, cloud-init seed and NVRAM.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import pwd
import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from hypervisor import errors as E
from hypervisor import migration
from hypervisor.accel import Accel, choose_accel, forced_from_env, host_facts
from hypervisor.cloudinit import write_seed
from hypervisor.contract import (
    DomainEvent,
    DomainInfo,
    Driver,
    EventCallback,
    ProgressCallback,
    UrlCheck,
    VolumeInfo,
)
from hypervisor.domxml import NS as META_NS
from hypervisor.domxml import (
    Firmware,
    ParsedDomain,
    VmPaths,
    design,
    disk_device,
    disk_device_xml,
    metadata_xml,
    next_target,
    parse_domain,
    resize_xml,
    to_xml,
    xml_root,
)
from hypervisor.libvirt_adapter import Connection, Domain
from hypervisor.spec import DiskSpec, VmSpec, check_vm_id, domain_name, vm_id_of
from hypervisor.storage import PoolStorage
from hypervisor.storaged import PrivateLibvirtd
from hypervisor.vif import OvsVifs

log = logging.getLogger(__name__)

# What the embedded driver runs with: QEMU as root (our files, our sockets), no
# virtlogd (no daemon), no per-domain mount namespace (cheaper, works in netns).
EMBED_QEMU_CONF = """\
# Written by Quantix for the embedded QEMU driver.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = []
"""


def embed_root(uri: str) -> Path | None:
    """The root directory of a ``qemu:///embed?root=DIR`` URI, else None."""
    u = urllib.parse.urlparse(uri)
    if u.scheme != "qemu" or u.path != "/embed":
        return None
    root = urllib.parse.parse_qs(u.query).get("root")
    if not root:
        raise E.InvalidSpec(f"{uri}: the embedded driver needs ?root=DIR")
    return Path(root[0])


def prepare_embed_root(root: Path) -> None:
    """Write the embedded driver's qemu.conf and check what libvirt needs."""
    # libvirt (Debian's build) resolves its default QEMU user and group before it
    # reads qemu.conf, so they must exist even though QEMU runs as root here.
    for check, name in ((pwd.getpwnam, "libvirt-qemu"), (grp.getgrnam, "libvirt-qemu")):
        try:
            check(name)
        except KeyError:
            raise E.ConnectionFailed(
                f"the embedded QEMU driver needs the system user and group {name!r}: "
                "run scripts/setup.sh (groupadd --system libvirt-qemu; "
                "useradd --system -g libvirt-qemu libvirt-qemu)"
            ) from None
    (root / "etc").mkdir(parents=True, exist_ok=True)
    conf = root / "etc" / "qemu.conf"
    if not conf.exists() or conf.read_text() != EMBED_QEMU_CONF:
        conf.write_text(EMBED_QEMU_CONF)


class LibvirtDriver(Driver):
    def __init__(
        self,
        uri: str,
        *,
        run_dir: str | Path | None = None,
        pools: dict[str, str] | None = None,
        accel: str | None = None,
        storage_uri: str | None = None,
        firmware: Firmware | None = None,
        vifs: OvsVifs | None = None,
    ) -> None:
        """``vifs``: plugs NICs on OVS ports (None: this host has no OVS networking,
        and a VM with such a NIC does not start here)."""
        self.uri = uri
        self.vifs = vifs
        self.root = embed_root(uri)
        if self.root is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            prepare_embed_root(self.root)
        self.firmware = firmware or Firmware()
        self.conn = Connection(uri)
        self._storaged: PrivateLibvirtd | None = None
        self._storage_uri = storage_uri
        self._sconn: Connection | None = None
        self._storage: PoolStorage | None = None
        self._storage_lock = threading.Lock()
        # Pools named at construction are made on first use of storage: a peer
        # that runs no VM never starts the storage libvirtd (embedded mode).
        self._pending_pools = dict(pools or {})
        if run_dir is not None:
            self.run_dir = Path(run_dir)
        elif self.root is not None:
            self.run_dir = self.root / "vms"
        else:
            self.run_dir = Path("/var/lib/quantix/run")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.accel = self._detect_accel(accel)
        self._subs: list[EventCallback] = []
        self._subs_lock = threading.Lock()
        self._cond = threading.Condition()
        self.conn.on_lifecycle(self._on_lifecycle)
        self.pools: dict[str, str] = dict(pools or {})

    @property
    def storage(self) -> PoolStorage:
        """The pool API, connected on first use (a private libvirtd when embedded)."""
        with self._storage_lock:
            if self._storage is None:
                if self._storage_uri:
                    self._sconn = Connection(self._storage_uri)
                elif self.conn.supports_pools():
                    self._sconn = self.conn
                elif self.root is not None:
                    self._storaged = PrivateLibvirtd(self.root / "storaged")
                    self._sconn = Connection(self._storaged.start())
                else:
                    raise E.ConnectionFailed(
                        f"{self.uri} has no storage driver: give a storage_uri"
                    )
                storage = PoolStorage(self._sconn)
                for name, path in self._pending_pools.items():
                    storage.ensure_pool(name, path)
                self._pending_pools.clear()
                self._storage = storage
            return self._storage

    # -- host -----------------------------------------------------------------
    def _detect_accel(self, forced: str | None) -> Accel:
        if self.conn.driver_type() == "TEST":
            return Accel("test", False, "libvirt's test driver", False, False)
        cpuinfo, dev_ok = host_facts()
        libvirt_kvm = self.conn.domain_capabilities("kvm") is not None
        acc = choose_accel(libvirt_kvm, cpuinfo, dev_ok, forced or forced_from_env())
        log.info("accelerator: %s (%s)", acc.name, acc.reason)
        return acc

    def host_info(self) -> dict[str, Any]:
        pools = []
        for name in self.storage.pool_names():
            with contextlib.suppress(E.HypervisorError):
                pools.append(self.storage.pool_info(name))
        return {
            "uri": self.uri,
            "storage_uri": self.storage.conn.uri,
            "driver": self.conn.driver_type(),
            "hostname": self.conn.hostname(),
            "libvirt_version": _version(self.conn.lib_version()),
            "hypervisor_version": _version(self.conn.hv_version()),
            "accel": self.accel.to_dict(),
            "run_dir": str(self.run_dir),
            "pools": pools,
        }

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        with self._subs_lock:
            self._subs.append(callback)

        def unsubscribe() -> None:
            with self._subs_lock:
                if callback in self._subs:
                    self._subs.remove(callback)

        return unsubscribe

    def _on_lifecycle(self, dom_name: str, event: str, detail: str) -> None:
        vm_id = vm_id_of(dom_name)
        if vm_id is None:
            return
        with self._cond:
            self._cond.notify_all()
        ev = DomainEvent(vm_id, event, detail)
        with self._subs_lock:
            subs = list(self._subs)
        for cb in subs:
            try:
                cb(ev)
            except Exception:
                log.exception("domain event callback failed")

    def close(self, stop_storage: bool = True) -> None:
        """Close the connections; the private storage libvirtd is stopped unless told not to."""
        self.conn.close()
        if self._sconn is not None and self._sconn is not self.conn:
            self._sconn.close()
        if self._storaged is not None and stop_storage:
            self._storaged.stop()

    # -- helpers ------------------------------------------------------------------
    def paths(self, vm_id: str) -> VmPaths:
        return VmPaths(str(self.run_dir / check_vm_id(vm_id)))

    def _dom(self, vm_id: str) -> Domain:
        try:
            return self.conn.domain(domain_name(check_vm_id(vm_id)))
        except E.DomainNotFound:
            raise E.DomainNotFound(f"no domain of VM {vm_id} on this host", vm=vm_id) from None

    def _info(self, dom: Domain, parsed: ParsedDomain | None = None) -> DomainInfo:
        state, reason = dom.state()
        p = parsed or parse_domain(dom.xml())
        vm_id = vm_id_of(dom.name) or p.vm_id or dom.name
        return DomainInfo(vm_id, dom.name, state, reason, p.epoch, p.vcpus, p.memory_mib)

    def _wait_inactive(self, dom: Domain, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not dom.is_active():
                    return True
            except E.DomainNotFound:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._cond:
                self._cond.wait(min(0.25, left))

    # -- domains ------------------------------------------------------------------
    def list_domains(self) -> list[DomainInfo]:
        out = []
        for dom in self.conn.domains():
            if vm_id_of(dom.name) is None:
                continue
            with contextlib.suppress(E.DomainNotFound):
                out.append(self._info(dom))
        return out

    def domain_info(self, vm_id: str) -> DomainInfo:
        return self._info(self._dom(vm_id))

    def create(self, spec: VmSpec, epoch: int = 0) -> DomainInfo:
        if spec.domain_name in self.conn.domain_names():
            raise E.DomainExists(f"VM {spec.vm_id} is already defined on this host")
        paths = self.paths(spec.vm_id)
        paths.check()
        for label, f in (("kernel", spec.kernel), ("initrd", spec.initrd)):
            if f and not Path(f).is_file():
                raise E.ImageNotFound(f"{label} {f} does not exist")
        created: list[tuple[str, str]] = []
        dom: Domain | None = None
        try:
            Path(paths.dir).mkdir(parents=True, exist_ok=True)
            disk_paths: dict[str, str] = {}
            for d in spec.disks:
                path, made = self._ensure_volume(d)
                disk_paths[d.id] = path
                if made:
                    created.append((d.pool, d.volume))
            cdrom_path = self._cdrom_path(spec)
            cidata = None
            if spec.cloud_init is not None:
                write_seed(Path(paths.cidata), spec.vm_id, spec.cloud_init)
                cidata = paths.cidata
            cfg = design(
                spec,
                disk_paths=disk_paths,
                paths=paths,
                domain_type=self.accel.domain_type,
                epoch=epoch,
                cdrom_path=cdrom_path,
                cidata_path=cidata,
                firmware=self.firmware,
            )
            dom = self.conn.define(to_xml(cfg))
            return self._info(dom)
        except BaseException:
            if dom is not None:
                with contextlib.suppress(E.HypervisorError):
                    dom.undefine()
            for pool, vol in created:
                self.storage.delete_volume_quietly(pool, vol)
            shutil.rmtree(paths.dir, ignore_errors=True)
            raise

    def _ensure_volume(self, d: DiskSpec) -> tuple[str, bool]:
        if self.storage.has_volume(d.pool, d.volume):
            return self.storage.volume(d.pool, d.volume).path, False
        size = int(d.size_gib * 2**30) if d.size_gib else None
        info = self.storage.create_volume(d.pool, d.volume, size, backing=d.image)
        return info.path, True

    def _cdrom_path(self, spec: VmSpec) -> str | None:
        cd = spec.cdrom
        if cd is None:
            return None
        if cd.pool and cd.volume:
            return self.storage.volume(cd.pool, cd.volume).path
        if cd.path and not Path(cd.path).is_file():
            raise E.ImageNotFound(f"CD-ROM image {cd.path} does not exist")
        return cd.path

    def start(self, vm_id: str) -> DomainInfo:
        dom = self._dom(vm_id)
        if dom.is_active():
            raise E.InvalidState(f"VM {vm_id} is already running")
        paths = self.paths(vm_id)
        Path(paths.dir).mkdir(parents=True, exist_ok=True)
        self._remove_sockets(paths)
        self._plug(dom)
        try:
            dom.start()
        except BaseException:
            # QEMU may have bound its sockets before it failed: leave none behind.
            if not dom.is_active():
                self._remove_sockets(paths)
            raise
        return self._info(dom)

    def _plug(self, dom: Domain) -> None:
        vifs = parse_domain(dom.xml(inactive=True)).vifs
        if vifs and self.vifs is None:
            raise E.OperationFailed(
                "this host has no OVS networking (no data_interface in node.yaml): "
                "a NIC on an overlay or VLAN network cannot be plugged here"
            )
        for tap, mac in vifs:
            assert self.vifs is not None
            self.vifs.plug(tap, mac)

    def _unplug(self, dom: Domain) -> None:
        if self.vifs is None:
            return
        for tap, _mac in parse_domain(dom.xml(inactive=True)).vifs:
            with contextlib.suppress(E.HypervisorError):
                self.vifs.unplug(tap)

    @staticmethod
    def _remove_sockets(paths: VmPaths) -> None:
        for stale in (paths.vnc_socket, paths.agent_socket):
            with contextlib.suppress(FileNotFoundError):
                Path(stale).unlink()

    def shutdown(self, vm_id: str, timeout: float = 60.0) -> str:
        dom = self._dom(vm_id)
        state, _ = dom.state()
        if state in ("stopped", "crashed") and not dom.is_active():
            return "already_stopped"
        if state == "paused":
            with contextlib.suppress(E.InvalidState):
                dom.resume()
        try:
            dom.shutdown_acpi()
        except E.InvalidState:
            if not dom.is_active():
                return "already_stopped"
            raise
        if self._wait_inactive(dom, timeout):
            return "shutdown"
        with contextlib.suppress(E.InvalidState):
            dom.destroy()
        return "forced"

    def wait_stopped(self, vm_id: str, timeout: float) -> bool:
        try:
            dom = self._dom(vm_id)
        except E.DomainNotFound:
            return True
        return self._wait_inactive(dom, timeout)

    def stop(self, vm_id: str) -> None:
        dom = self._dom(vm_id)
        if not dom.is_active():
            return
        try:
            dom.destroy()
        except E.InvalidState:
            if dom.is_active():
                raise
        self._unplug(dom)

    def reboot(self, vm_id: str) -> None:
        self._dom(vm_id).reboot()

    def pause(self, vm_id: str) -> None:
        dom = self._dom(vm_id)
        state, _ = dom.state()
        if state != "running":
            raise E.InvalidState(f"VM {vm_id} is {state}: only a running VM can be paused")
        dom.suspend()

    def resume(self, vm_id: str) -> None:
        dom = self._dom(vm_id)
        state, _ = dom.state()
        if state != "paused":
            raise E.InvalidState(f"VM {vm_id} is {state}, not paused")
        dom.resume()

    def delete(
        self,
        vm_id: str,
        remove_disks: bool = False,
        keep_volumes: Collection[tuple[str, str]] = (),
    ) -> None:
        paths = self.paths(vm_id)
        try:
            dom: Domain | None = self._dom(vm_id)
        except E.DomainNotFound:
            dom = None
        if dom is None and not Path(paths.dir).exists():
            raise E.DomainNotFound(f"no domain of VM {vm_id} on this host", vm=vm_id)
        if dom is not None:
            if dom.is_active():
                with contextlib.suppress(E.InvalidState):
                    dom.destroy()
            if remove_disks:
                # Volumes go before the definition: if one cannot be removed, the
                # domain (which names them) is still there for a retry.
                failed = []
                for _alias, pool, vol in parse_domain(dom.xml(inactive=True)).owned_volumes:
                    if (pool, vol) in keep_volumes:
                        continue
                    try:
                        self.storage.delete_volume(pool, vol)
                    except E.VolumeNotFound:
                        pass
                    except E.HypervisorError as e:
                        failed.append(e.message)
                if failed:
                    raise E.OperationFailed(
                        f"VM {vm_id}: could not remove its volumes: {'; '.join(failed)}"
                    )
            self._unplug(dom)
            with contextlib.suppress(E.DomainNotFound):
                dom.undefine()
        shutil.rmtree(paths.dir, ignore_errors=True)

    # -- live migration -------------------------------------------------------------
    def start_incoming(self, vm_id: str, listen_host: str, port: int = 0) -> str:
        dom = self._dom(vm_id)
        if dom.is_active():
            raise E.InvalidState(f"VM {vm_id} is already running here")
        self._plug(dom)
        live = self.conn.start_live(migration.incoming_xml(dom.xml(inactive=True)), paused=True)
        try:
            live.qmp("migrate-incoming", uri=migration.listen_uri(listen_host, port))
            return migration.bound_uri(live.qmp("query-migrate") or {}, listen_host)
        except BaseException:
            with contextlib.suppress(E.HypervisorError):
                live.destroy()
            raise

    def incoming_status(self, vm_id: str) -> str:
        dom = self._dom(vm_id)
        if not dom.is_active():
            return "stopped"
        # While waiting or receiving QEMU's run state is "inmigrate"; its
        # query-migrate says "none" while it only listens, so the run state decides.
        if (dom.qmp("query-status") or {}).get("status") == "inmigrate":
            return "receiving"
        status = migration.progress_of(dom.qmp("query-migrate") or {}).status
        return status if status in ("completed", "failed") else "none"

    def migrate_out(
        self,
        vm_id: str,
        uri: str,
        on_progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        timeout: float = 600.0,
    ) -> dict[str, Any]:
        dom = self._dom(vm_id)
        state, _ = dom.state()
        if state != "running":
            raise E.InvalidState(f"VM {vm_id} is {state}: only a running guest migrates live")
        report = None if on_progress is None else (lambda p: on_progress(p.fraction))
        return migration.send(dom.qmp, uri, report, cancelled, timeout)

    def set_epoch(self, vm_id: str, epoch: int) -> None:
        dom = self._dom(vm_id)
        self._write_metadata(dom, epoch=epoch)

    def _write_metadata(
        self,
        dom: Domain,
        *,
        epoch: int | None = None,
        owned: list[tuple[str, str, str]] | None = None,
    ) -> None:
        p = parse_domain(dom.xml(inactive=True))
        vm_id = p.vm_id or vm_id_of(dom.name) or dom.name
        xml = metadata_xml(
            vm_id,
            p.epoch or 0 if epoch is None else epoch,
            list(p.owned_volumes) if owned is None else owned,
            p.labels,
        )
        dom.set_metadata(xml, "qx", META_NS, live=dom.is_active())

    def resize(self, vm_id: str, vcpus: int | None, memory_mib: int | None) -> DomainInfo:
        if vcpus is not None and not 1 <= vcpus <= 255:
            raise E.InvalidSpec(f"vcpus must be from 1 to 255, got {vcpus}")
        if memory_mib is not None and memory_mib < 32:
            raise E.InvalidSpec(f"memory_mib must be at least 32, got {memory_mib}")
        dom = self._dom(vm_id)
        if dom.is_active():
            raise E.InvalidState(f"VM {vm_id} must be stopped to change CPU or memory")
        new = self.conn.define(resize_xml(dom.xml(inactive=True), vcpus, memory_mib))
        return self._info(new)

    # -- disks ----------------------------------------------------------------------
    def list_disks(self, vm_id: str) -> list[dict[str, Any]]:
        p = parse_domain(self._dom(vm_id).xml(inactive=True))
        owned = {alias: (pool, vol) for alias, pool, vol in p.owned_volumes}
        out = []
        for d in p.disks:
            if not (d.alias and d.alias.startswith("disk-")):
                continue
            pool, vol = owned.get(d.alias, (None, None))
            out.append(
                {
                    "id": d.alias[5:],
                    "target": d.target,
                    "bus": d.bus,
                    "path": d.path,
                    "pool": pool,
                    "volume": vol,
                }
            )
        return out

    def attach_disk(self, vm_id: str, disk: DiskSpec) -> dict[str, Any]:
        dom = self._dom(vm_id)
        live = dom.is_active()
        cfg = parse_domain(dom.xml(inactive=True))
        cur = parse_domain(dom.xml()) if live else cfg
        alias = f"disk-{disk.id}"
        if any(d.alias == alias for d in (*cfg.disks, *cur.disks)):
            raise E.DomainExists(f"VM {vm_id} already has a disk {disk.id}")
        used = {d.target for d in (*cfg.disks, *cur.disks)}
        target = next_target(disk.bus, used)
        path, made = self._ensure_volume(disk)
        try:
            dev = disk_device(disk, path, target, None)
            dom.attach_device(disk_device_xml(dev), live=live)
            owned = [*cfg.owned_volumes, (alias, disk.pool, disk.volume)]
            self._write_metadata(dom, owned=owned)
        except BaseException:
            if made:
                self.storage.delete_volume_quietly(disk.pool, disk.volume)
            raise
        return {"id": disk.id, "target": target, "path": path}

    def detach_disk(
        self, vm_id: str, disk_id: str, remove_volume: bool = False, timeout: float = 20.0
    ) -> None:
        dom = self._dom(vm_id)
        alias = f"disk-{disk_id}"
        cfg = parse_domain(dom.xml(inactive=True))
        live = dom.is_active()
        in_live = live and any(d.alias == alias for d in parse_domain(dom.xml()).disks)
        if not any(d.alias == alias for d in cfg.disks) and not in_live:
            raise E.DeviceNotFound(f"VM {vm_id} has no disk {disk_id}")
        dom.detach_device_alias("ua-" + alias, live=in_live)
        if in_live:
            deadline = time.monotonic() + timeout
            while any(d.alias == alias for d in parse_domain(dom.xml()).disks):
                if time.monotonic() > deadline:
                    raise E.OperationTimeout(
                        f"the guest of VM {vm_id} did not release disk {disk_id} in {timeout}s"
                    )
                time.sleep(0.1)
        owned = [o for o in cfg.owned_volumes if o[0] != alias]
        self._write_metadata(dom, owned=owned)
        if remove_volume:
            for a, pool, vol in cfg.owned_volumes:
                if a == alias:
                    self.storage.delete_volume(pool, vol)

    # -- snapshots ------------------------------------------------------------------
    def snapshot_create(self, vm_id: str, name: str, description: str = "") -> dict[str, Any]:
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
            raise E.InvalidSpec(f"snapshot name {name!r}: 1-64 letters, digits, '-' or '_'")
        dom = self._dom(vm_id)
        xml = (
            f"<domainsnapshot><name>{escape(name)}</name>"
            f"<description>{escape(description)}</description></domainsnapshot>"
        )
        dom.snapshot_create(xml)
        return next(s for s in self.snapshot_list(vm_id) if s["name"] == name)

    def snapshot_list(self, vm_id: str) -> list[dict[str, Any]]:
        out = []
        for s in self._dom(vm_id).snapshot_list():
            root = xml_root(s["xml"])
            out.append(
                {
                    "name": s["name"],
                    "description": root.findtext("description") or "",
                    "created_at": float(root.findtext("creationTime") or 0),
                    "state": root.findtext("state") or "",
                    "current": s["current"],
                }
            )
        return sorted(out, key=lambda s: (s["created_at"], s["name"]))

    def snapshot_revert(self, vm_id: str, name: str) -> DomainInfo:
        dom = self._dom(vm_id)
        dom.snapshot_revert(name)
        return self._info(dom)

    def snapshot_delete(self, vm_id: str, name: str) -> None:
        self._dom(vm_id).snapshot_delete(name)

    # -- consoles -------------------------------------------------------------------
    def console_paths(self, vm_id: str) -> dict[str, str | None]:
        p = parse_domain(self._dom(vm_id).xml())
        return {
            "vnc_socket": p.vnc_socket,
            "serial_log": p.serial_log,
            "agent_socket": p.agent_socket,
            "serial_pty": p.pty,
        }

    def read_serial_log(self, vm_id: str, offset: int = 0, limit: int = 65536) -> dict[str, Any]:
        path = Path(self.paths(vm_id).serial_log)
        if not path.exists():
            self._dom(vm_id)  # DomainNotFound when there is no such VM at all
            return {"data": "", "offset": 0, "size": 0}
        size = path.stat().st_size
        offset = max(0, min(offset if offset >= 0 else size + offset, size))
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read(max(0, min(limit, 1 << 20)))
        return {"data": data.decode("utf-8", "replace"), "offset": offset + len(data), "size": size}

    # -- storage ----------------------------------------------------------------------
    def ensure_pool(self, name: str, path: str) -> dict[str, Any]:
        info = self.storage.ensure_pool(name, path)
        self.pools[name] = path
        return info

    def pool_info(self, name: str) -> dict[str, Any]:
        return self.storage.pool_info(name)

    def list_volumes(self, pool: str) -> list[VolumeInfo]:
        return self.storage.list_volumes(pool)

    def create_volume(
        self,
        pool: str,
        name: str,
        size_bytes: int | None,
        backing: str | None = None,
        fmt: str = "qcow2",
    ) -> VolumeInfo:
        return self.storage.create_volume(pool, name, size_bytes, backing, fmt)

    def resize_volume(self, pool: str, name: str, size_bytes: int) -> VolumeInfo:
        return self.storage.resize_volume(pool, name, size_bytes)

    def clone_volume(self, pool: str, source: str, name: str) -> VolumeInfo:
        return self.storage.clone_volume(pool, source, name)

    def delete_volume(self, pool: str, name: str) -> None:
        self.storage.delete_volume(pool, name)

    def import_image(
        self,
        pool: str,
        name: str,
        source: str,
        sha256: str | None = None,
        progress: ProgressCallback | None = None,
        url_check: UrlCheck | None = None,
    ) -> dict[str, Any]:
        return self.storage.import_image(pool, name, source, sha256, progress, url_check)


def _version(v: int) -> str:
    return f"{v // 1_000_000}.{v // 1000 % 1000}.{v % 1000}"
