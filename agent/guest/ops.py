"""What the agent does for each request. A handler takes the request's args
and returns a msgpack-able result or raises ``OpError`` (code, message)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from agent import __version__
from agent.guest import sysinfo
from agent.protocol import (
    EXEC_OUTPUT_CAP,
    EXEC_TIMEOUT_MAX_S,
    FILE_CAP,
    OPS,
    PROTOCOL_VERSIONS,
    choose_version,
)

FIFREEZE = 0xC0045877
FITHAW = 0xC0045878
HOOKS_DIR = "/etc/quantix-agent/hooks.d"
SSH_KEY_TYPES = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")


class OpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def log(msg: str) -> None:
    # stderr: the journal under systemd, the serial console in the test guest.
    sys.stderr.write(f"quantix-agent: {msg}\n")
    sys.stderr.flush()


def _arg(args: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    v = args.get(name, default)
    if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
        raise OpError("bad_args", f"{name} must be a {kind.__name__}")
    return v


class Agent:
    """The handlers, with the little state they share (frozen file systems)."""

    def __init__(self, hooks_dir: str = HOOKS_DIR) -> None:
        self.hooks_dir = hooks_dir
        self.frozen: list[str] = []
        self._freeze_lock = threading.Lock()
        self._auto_thaw: threading.Timer | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            op: getattr(self, "op_" + op) for op in OPS
        }

    # -- session ---------------------------------------------------------------------
    def op_hello(self, args: dict[str, Any]) -> dict[str, Any]:
        version = choose_version(PROTOCOL_VERSIONS, args.get("versions"))
        if version is None:
            raise OpError("no_common_version", f"this agent speaks {list(PROTOCOL_VERSIONS)}")
        return {
            "protocol": version,
            "agent_version": __version__,
            "capabilities": sorted(self.handlers),
            "os": sysinfo.os_info(),
            "hostname": os.uname().nodename,
            "python": sys.version.split()[0],
        }

    def op_ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"time": time.time()}

    def op_info(self, args: dict[str, Any]) -> dict[str, Any]:
        out = sysinfo.info()
        out["frozen"] = bool(self.frozen)
        return out

    # -- exec --------------------------------------------------------------------------
    def op_exec(self, args: dict[str, Any]) -> dict[str, Any]:
        argv = _arg(args, "argv", list)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise OpError("bad_args", "argv must be a non-empty list of strings")
        timeout = float(_arg(args, "timeout_s", (int, float), 30))  # type: ignore[arg-type]
        timeout = max(0.1, min(timeout, EXEC_TIMEOUT_MAX_S))
        stdin = args.get("stdin") or b""
        if not isinstance(stdin, bytes):
            raise OpError("bad_args", "stdin must be bytes")
        cap = min(int(args.get("output_cap") or EXEC_OUTPUT_CAP), EXEC_OUTPUT_CAP)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a timeout kills the whole group
                close_fds=True,
            )
        except OSError as e:
            raise OpError("exec_failed", f"cannot run {argv[0]}: {e.strerror}") from None
        out, err, truncated, timed_out = _collect(proc, stdin, cap, started + timeout)
        return {
            "exit_code": proc.returncode,
            "stdout": out,
            "stderr": err,
            "truncated": truncated,
            "timed_out": timed_out,
            "duration_s": round(time.monotonic() - started, 3),
        }

    # -- files -------------------------------------------------------------------------
    def op_file_read(self, args: dict[str, Any]) -> dict[str, Any]:
        path = _arg(args, "path", str)
        offset = int(_arg(args, "offset", int, 0))
        limit = min(int(_arg(args, "max_bytes", int, FILE_CAP)), FILE_CAP)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(max(0, offset))
                data = f.read(limit)
        except OSError as e:
            raise OpError("file_error", f"{path}: {e.strerror}") from None
        return {"data": data, "size": size, "offset": offset, "eof": offset + len(data) >= size}

    def op_file_write(self, args: dict[str, Any]) -> dict[str, Any]:
        path = _arg(args, "path", str)
        data = args.get("data")
        if not isinstance(data, bytes) or len(data) > FILE_CAP:
            raise OpError("bad_args", f"data must be bytes, at most {FILE_CAP}")
        mode = int(_arg(args, "mode", int, 0o644)) & 0o7777
        append = bool(args.get("append", False))
        try:
            if append:
                with open(path, "ab") as f:
                    f.write(data)
            else:
                # A reader never sees half a file: write beside it, then rename.
                tmp = f"{path}.qx-agent-{os.getpid()}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.chmod(tmp, mode)
                os.replace(tmp, path)
            return {"size": os.stat(path).st_size}
        except OSError as e:
            raise OpError("file_error", f"{path}: {e.strerror}") from None

    # -- accounts ----------------------------------------------------------------------
    def op_set_password(self, args: dict[str, Any]) -> dict[str, Any]:
        user = _arg(args, "user", str)
        password = _arg(args, "password", str)
        if ":" in user or "\n" in user or "\n" in password:
            raise OpError("bad_args", "user and password may not hold ':' or newlines")
        _user(user)
        try:
            res = subprocess.run(
                ["chpasswd"],
                input=f"{user}:{password}\n".encode(),
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise OpError("password_failed", f"chpasswd: {e}") from None
        if res.returncode != 0:
            msg = res.stderr.decode(errors="replace").strip()[:500]
            raise OpError("password_failed", f"chpasswd: {msg}")
        log(f"password of {user} set by the host")
        return {"user": user}

    def op_add_ssh_keys(self, args: dict[str, Any]) -> dict[str, Any]:
        user = _arg(args, "user", str)
        keys = _arg(args, "keys", list)
        for k in keys:
            if not isinstance(k, str) or "\n" in k or not k.startswith(SSH_KEY_TYPES):
                raise OpError("bad_args", "each key must be one OpenSSH public key line")
        pw = _user(user)
        ssh = os.path.join(pw.pw_dir, ".ssh")
        path = os.path.join(ssh, "authorized_keys")
        try:
            os.makedirs(ssh, mode=0o700, exist_ok=True)
            os.chown(ssh, pw.pw_uid, pw.pw_gid)
            have = set()
            if os.path.exists(path):
                with open(path) as f:
                    have = {line.strip() for line in f}
            new = [k.strip() for k in keys if k.strip() not in have]
            with open(path, "a") as f:
                for k in new:
                    f.write(k + "\n")
            os.chmod(path, 0o600)
            os.chown(path, pw.pw_uid, pw.pw_gid)
        except OSError as e:
            raise OpError("file_error", f"{path}: {e.strerror}") from None
        log(f"{len(new)} SSH key(s) added for {user} by the host")
        return {"added": len(new), "path": path}

    # -- quiesce -----------------------------------------------------------------------
    def op_freeze(self, args: dict[str, Any]) -> dict[str, Any]:
        timeout = float(_arg(args, "timeout_s", (int, float), 60))  # type: ignore[arg-type]
        with self._freeze_lock:
            if self.frozen:
                raise OpError("already_frozen", "file systems are frozen already")
            hooks = self._hooks("freeze")
            frozen, skipped = [], []
            # Deepest first, so a mount under another is frozen before its parent.
            mounts = sorted(
                (m for _, m, _ in sysinfo.parse_mounts(sysinfo._read("/proc/mounts"))),
                key=len,
                reverse=True,
            )
            for mnt in mounts:
                try:
                    fd = os.open(mnt, os.O_RDONLY)
                    try:
                        fcntl.ioctl(fd, FIFREEZE, 0)
                    finally:
                        os.close(fd)
                    frozen.append(mnt)
                except OSError as e:
                    skipped.append({"mount": mnt, "reason": e.strerror or str(e)})
            self.frozen = frozen
            # If the host never thaws (it died), thaw here: a frozen guest hangs.
            self._auto_thaw = threading.Timer(timeout, self._thaw_alone)
            self._auto_thaw.daemon = True
            self._auto_thaw.start()
        log(f"froze {frozen or 'no file system'} (hooks: {hooks})")
        return {"frozen": frozen, "skipped": skipped, "hooks": hooks}

    def op_thaw(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._freeze_lock:
            thawed = self._thaw()
        hooks = self._hooks("thaw")
        log(f"thawed {thawed or 'no file system'} (hooks: {hooks})")
        return {"thawed": thawed, "hooks": hooks}

    def _thaw(self) -> list[str]:
        if self._auto_thaw is not None:
            self._auto_thaw.cancel()
            self._auto_thaw = None
        thawed = []
        for mnt in reversed(self.frozen):
            try:
                fd = os.open(mnt, os.O_RDONLY)
                try:
                    fcntl.ioctl(fd, FITHAW, 0)
                finally:
                    os.close(fd)
                thawed.append(mnt)
            except OSError as e:
                log(f"thaw {mnt}: {e.strerror}")
        self.frozen = []
        return thawed

    def _thaw_alone(self) -> None:
        with self._freeze_lock:
            if self.frozen:
                log("the host did not thaw in time: thawing")
                self._thaw()
        self._hooks("thaw")

    def _hooks(self, phase: str) -> list[dict[str, Any]]:
        """Run each executable in the hooks dir with ``freeze`` (pre-freeze, in
        name order) or ``thaw`` (post-thaw, reverse order), like VMware's scripts."""
        try:
            names = sorted(os.listdir(self.hooks_dir), reverse=phase == "thaw")
        except OSError:
            return []
        out = []
        for name in names:
            path = os.path.join(self.hooks_dir, name)
            if not os.access(path, os.X_OK) or os.path.isdir(path):
                continue
            try:
                res = subprocess.run([path, phase], capture_output=True, timeout=30)
                out.append({"hook": name, "exit_code": res.returncode})
            except (OSError, subprocess.TimeoutExpired) as e:
                out.append({"hook": name, "exit_code": -1, "error": str(e)[:200]})
        return out

    # -- power and time ----------------------------------------------------------------
    def op_shutdown(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._power("poweroff")

    def op_reboot(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._power("reboot")

    def _power(self, action: str) -> dict[str, Any]:
        log(f"{action} requested by the host")
        # Answer first; the command runs a moment later.
        argv = ["systemctl", action] if os.path.isdir("/run/systemd/system") else [action]
        t = threading.Timer(0.2, _run_quietly, (argv,))
        t.daemon = True
        t.start()
        return {"action": action, "command": argv}

    def op_set_time(self, args: dict[str, Any]) -> dict[str, Any]:
        t = _arg(args, "time", (int, float))  # type: ignore[arg-type]
        before = time.time()
        try:
            time.clock_settime(time.CLOCK_REALTIME, float(t))
        except OSError as e:
            raise OpError("time_failed", f"cannot set the clock: {e.strerror}") from None
        log(f"clock stepped by {float(t) - before:+.3f} s by the host")
        return {"step_s": round(float(t) - before, 6)}


def _user(name: str) -> Any:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise OpError("no_such_user", f"no user {name!r} in the guest") from None


def _run_quietly(argv: list[str]) -> None:
    try:
        subprocess.run(argv, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"{argv}: {e}")


def _collect(
    proc: subprocess.Popen[bytes], stdin: bytes, cap: int, deadline: float
) -> tuple[bytes, bytes, bool, bool]:
    """Feed stdin, read both pipes until exit or the deadline, keeping at most
    ``cap`` bytes of each (the rest is read and dropped so the child never blocks)."""
    assert proc.stdin and proc.stdout and proc.stderr
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except OSError:
        pass
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    open_fds = set(bufs)
    truncated = timed_out = False
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(list(open_fds), [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            room = cap - len(bufs[fd])
            if len(chunk) > room:
                truncated = True
            bufs[fd] += chunk[: max(0, room)]
    if timed_out:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=max(0.1, deadline - time.monotonic()) if not timed_out else 5)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return bytes(bufs[out_fd]), bytes(bufs[err_fd]), truncated, timed_out
