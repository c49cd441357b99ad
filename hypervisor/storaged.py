"""A private libvirtd that serves the storage pool API beside the embedded QEMU driver.

Libvirt 9.0's embedded mode exists for the QEMU driver only: pool calls on
``qemu:///embed`` answer "not supported by the connection driver", and
``storage:///embed`` answers "Driver does not support embedded mode". So that
storage still goes through libvirt's pool API (and not by hand), a peer that
runs the embedded driver starts its own libvirtd in a private mount namespace
whose ``/etc/libvirt``, ``/run/libvirt``, ``/var/lib/libvirt``,
``/var/cache/libvirt`` and ``/var/log/libvirt`` are bind mounts of folders
under ``state_dir``, with its socket in ``state_dir/sock``. Several peers on one
machine (the lab, parallel tests) thus never share libvirt state, and the
system's libvirt (if any) is untouched. Needs root, as the embedded driver does.

The daemon outlives a killed peer; the next start adopts it (its socket answers).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

from hypervisor.errors import ConnectionFailed

BINDS = {
    "etc": "/etc/libvirt",
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "cache": "/var/cache/libvirt",
    "log": "/var/log/libvirt",
}


class PrivateLibvirtd:
    def __init__(self, state_dir: Path, libvirtd: str = "/usr/sbin/libvirtd") -> None:
        self.state_dir = Path(state_dir)
        self.libvirtd = libvirtd
        self.socket = self.state_dir / "sock" / "libvirt-sock"
        self.pidfile = self.state_dir / "libvirtd.pid"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.socket}"

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(1.0)
            s.connect(str(self.socket))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self, timeout: float = 15.0) -> str:
        """Start (or adopt) the daemon; return the URI to connect to."""
        if self.pid() is not None and self.answers():
            return self.uri
        if not Path(self.libvirtd).exists():
            raise ConnectionFailed(f"{self.libvirtd} is missing: install libvirt-daemon")
        for d in [*BINDS, "sock"]:
            (self.state_dir / d).mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        conf = self.state_dir / "libvirtd.conf"
        conf.write_text(
            f'unix_sock_dir = "{self.state_dir / "sock"}"\n'
            'unix_sock_rw_perms = "0700"\n'
            'unix_sock_ro_perms = "0700"\n'
            'auth_unix_rw = "none"\n'
            'auth_unix_ro = "none"\n'
            'log_outputs = "3:file:' + str(self.state_dir / "libvirtd.log") + '"\n'
        )
        mounts = " && ".join(
            f"mkdir -p {t} && mount --bind {shlex.quote(str(self.state_dir / s))} {t}"
            for s, t in BINDS.items()
        )
        script = (
            f"{mounts} && exec {shlex.quote(self.libvirtd)} "
            f"-f {shlex.quote(str(conf))} -p {shlex.quote(str(self.pidfile))}"
        )
        log = (self.state_dir / "start.log").open("wb")
        try:
            proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        self._proc = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.answers():
                return self.uri
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        out = (self.state_dir / "start.log").read_text(errors="replace")[-2000:]
        with contextlib.suppress(OSError):
            proc.kill()
        raise ConnectionFailed(f"the private libvirtd for storage did not start: {out}")

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            if self._proc is not None and self._proc.pid == pid:
                self._proc.poll()  # reap our own child so it does not linger as a zombie
            time.sleep(0.05)
        else:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
