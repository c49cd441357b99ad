"""A Quantix-OS virtual machine for tests and benches: QEMU (TCG) with OVMF,
a sparse copy of the built image, its serial line in a tmux session (so
the console can be read with ``screen()`` and driven with ``keys()``), and either
user-mode networking with the API forwarded to a loopback port, or a tap device.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testkit.wait import wait_for

REPO = Path(__file__).resolve().parent.parent
IMAGE = REPO / "build/os/quantix-os.img"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
COLS, ROWS = 80, 24
ESP_OFFSET = 1024 * 1024  # peer.osimage.layout: the ESP starts at 1 MiB
# TCG on a shared, loaded machine renews leases far slower than a real host: a
# 6 s fence (and watchdog) would reset the guest. Real hosts keep the default.
SLOW_MACHINE_ARGS = "quantix.fence_after=30"


def image_available() -> bool:
    return IMAGE.exists() and OVMF_CODE.exists() and shutil.which("qemu-system-x86_64") is not None


@dataclass
class OsVm:
    name: str
    workdir: Path
    image: Path = IMAGE
    memory_mib: int = 1536
    cpus: int = 2  # TCG runs one thread per vCPU: two get through a loaded machine faster
    api_port: int | None = None  # user-mode networking, the API on 127.0.0.1:api_port
    tap: str | None = None  # else a tap device (an existing bridge port)
    mac: str = "52:54:00:12:34:56"
    netns: str | None = None  # run QEMU in this network namespace (its tap lives there)
    address: str | None = None  # the VM's own IP, for the API when not forwarded
    # Extra raw disks (an installer's target). They come first in the firmware's
    # boot order: blank, the firmware skips them; installed, they boot.
    disks: list[Path] = field(default_factory=list)
    kernel_args: str = SLOW_MACHINE_ARGS  # added to slot A's boot entry
    esp_files: dict[str, str] = field(default_factory=dict)  # put on the ESP (answer file)
    started: float = 0.0

    @property
    def session(self) -> str:
        return f"qxos-{self.name}"

    @property
    def api_url(self) -> str:
        if self.api_port:
            return f"https://127.0.0.1:{self.api_port}/api/v1"
        return f"https://{self.address}:8443/api/v1"

    @property
    def tmux(self) -> list[str]:
        return ["tmux", "-L", self.session]  # a private tmux server per VM

    @property
    def disk(self) -> Path:
        return self.workdir / f"{self.name}.img"

    def prepare(self) -> None:
        """A fresh sparse copy of the image (factory state), its boot entries with
        ``kernel_args``, ``esp_files`` on its ESP, and fresh EFI variables."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.disk.unlink(missing_ok=True)
        subprocess.run(["cp", "--sparse=always", str(self.image), str(self.disk)], check=True)
        shutil.copy(OVMF_VARS, self.workdir / f"{self.name}.vars")
        esp = f"{self.disk}@@{ESP_OFFSET}"
        files = dict(self.esp_files)
        if self.kernel_args:
            listing = subprocess.run(
                ["mdir", "-b", "-i", esp, "::/loader/entries"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for name in listing.split():
                path = "loader/entries/" + name.rsplit("/", 1)[-1]
                text = subprocess.run(
                    ["mtype", "-i", esp, f"::/{path}"], capture_output=True, text=True, check=True
                ).stdout
                lines = [
                    ln + " " + self.kernel_args if ln.startswith("options ") else ln
                    for ln in text.splitlines()
                ]
                files[path] = "\n".join(lines) + "\n"
        src = self.workdir / f".{self.name}.esp-file"
        for path, content in files.items():
            src.write_text(content)
            parent = str(Path(path).parent)
            if parent != ".":
                subprocess.run(["mmd", "-i", esp, f"::/{parent}"], capture_output=True)
            subprocess.run(["mcopy", "-o", "-i", esp, str(src), f"::/{path}"], check=True)
        src.unlink(missing_ok=True)

    def argv(self) -> list[str]:
        net = (
            f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.api_port}-:8443"
            if self.api_port
            else f"tap,id=n0,ifname={self.tap},script=no,downscript=no"
        )
        argv = [
            "qemu-system-x86_64",
            "-name", self.name,
            "-machine", "q35",
            "-accel", "tcg",
            "-cpu", "max",
            "-smp", str(self.cpus),
            "-m", str(self.memory_mib),
            "-display", "none",
            "-monitor", "none",
            "-chardev", "stdio,id=s0,signal=off",
            "-serial", "chardev:s0",
            "-pidfile", str(self.workdir / f"{self.name}.pid"),
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={self.workdir / f'{self.name}.vars'}",
            "-drive", f"if=none,id=d0,format=raw,file={self.disk}",
            "-device", f"virtio-blk-pci,drive=d0,bootindex={len(self.disks)}",
            "-netdev", net,
            "-device", f"virtio-net-pci,netdev=n0,mac={self.mac}",
        ]  # fmt: skip
        for i, extra in enumerate(self.disks):
            argv += ["-drive", f"if=none,id=x{i},format=raw,file={extra}"]
            argv += ["-device", f"virtio-blk-pci,drive=x{i},bootindex={i}"]
        return argv

    def start(self) -> None:
        """Power on; the serial line is the tmux session's only pane."""
        self.stop()
        log = self.workdir / f"{self.name}.serial.log"
        err = self.workdir / f"{self.name}.qemu.err"
        argv = self.argv()
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        cmd = " ".join(_quote(a) for a in argv) + f" 2>{_quote(str(err))}"
        size = ["-x", str(COLS), "-y", str(ROWS)]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", self.session, *size, cmd], check=True
        )
        subprocess.run([*self.tmux, "pipe-pane", "-t", self.session, f"cat >> {_quote(str(log))}"])
        self.started = time.monotonic()

    def running(self) -> bool:
        return (
            subprocess.run(
                [*self.tmux, "has-session", "-t", self.session], capture_output=True
            ).returncode
            == 0
        )

    def stop(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)
        pidfile = self.workdir / f"{self.name}.pid"
        if pidfile.exists():
            pid = pidfile.read_text().strip()
            if pid.isdigit():
                subprocess.run(["kill", pid], capture_output=True)
            pidfile.unlink(missing_ok=True)

    # -- the serial console ----------------------------------------------------
    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.session],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        argv = [*self.tmux, "send-keys", "-t", self.session]
        if literal:
            argv.append("-l")
        subprocess.run([*argv, "--", *keys], check=True)  # a key may begin with "-"

    def wait_screen(self, text: str, timeout: float) -> str:
        return wait_for(
            lambda: self.screen() if text in self.screen() else "",
            timeout,
            f"{text!r} on {self.name}'s serial console",
            interval=0.5,
            explain=self.screen,
        )

    def serial_log(self) -> str:
        """Everything the serial line printed since power-on (the screen keeps only
        what the console last drew; messages to /dev/console scroll past it)."""
        import re

        try:
            raw = (self.workdir / f"{self.name}.serial.log").read_bytes()
        except OSError:
            return ""
        return re.sub(r"\x1b\[[0-9;=?]*[A-Za-z]", "", raw.decode(errors="replace"))

    def wait_log(self, text: str, timeout: float) -> str:
        return wait_for(
            lambda: self.serial_log() if text in self.serial_log() else "",
            timeout,
            f"{text!r} in {self.name}'s serial output",
            interval=1.0,
            explain=lambda: self.serial_log()[-800:],
        )

    # -- the API -----------------------------------------------------------------
    def health(self, timeout: float = 3.0) -> int:
        """HTTP status of GET /api/v1/health through the forwarded port (0: no answer)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the host's certificate is self-signed
        url = f"{self.api_url}/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:  # noqa: S310
                return int(r.status)
        except OSError:
            return 0

    def health_json(self) -> dict[str, object]:
        import json

        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        url = f"{self.api_url}/health"
        with urllib.request.urlopen(url, timeout=5, context=ctx) as r:  # noqa: S310
            return dict(json.loads(r.read()))

    def wait_api(self, timeout: float) -> float:
        """Seconds from power-on until the API answered."""
        wait_for(
            lambda: self.health() == 200,
            timeout,
            f"{self.name}'s /api/v1/health",
            interval=0.5,
            explain=lambda: self.screen()[-800:],
        )
        return time.monotonic() - self.started


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


class OsApi:
    """The API of a Quantix-OS VM through its forwarded port, as a browser uses it
    (a session cookie after ``login``)."""

    def __init__(self, vm: OsVm) -> None:
        import http.cookiejar

        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the host's certificate is self-signed
        self.base = vm.api_url
        self.csrf = ""
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def login(self, user: str, password: str) -> bool:
        out = self.call("POST", "/auth/login", {"username": user, "password": password})
        self.csrf = str(out.get("csrf_token", ""))
        return True

    def call(
        self, method: str, path: str, body: object = None, timeout: float = 30
    ) -> dict[str, object]:
        import json

        data = None if body is None else json.dumps(body).encode()
        # an https URL to the VM, built here
        req = urllib.request.Request(self.base + path, data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if self.csrf:
            req.add_header("X-CSRF-Token", self.csrf)
        with self.opener.open(req, timeout=timeout) as r:
            raw = r.read()
        return dict(json.loads(raw)) if raw else {}

    def get(self, path: str) -> dict[str, object]:
        return self.call("GET", path)

    def upload_bundle(self, path: Path, timeout: float = 600) -> dict[str, object]:
        import json

        with open(path, "rb") as f:
            url = self.base + "/host/os/update"
            req = urllib.request.Request(url, f, method="POST")  # noqa: S310
            req.add_header("Content-Type", "application/octet-stream")
            req.add_header("Content-Length", str(path.stat().st_size))
            req.add_header("X-CSRF-Token", self.csrf)
            with self.opener.open(req, timeout=timeout) as r:
                return dict(json.loads(r.read()))


def run_wizard(vm: OsVm, hostname: str, password: str, cluster: str, secret: str) -> None:
    """Drive the first-boot wizard on the serial console: host name, password,
    network kept, SSH off, "create or join" the cluster."""
    from testkit.wait import WaitTimeout

    vm.wait_screen("1/4 Host name", 300)
    vm.keys(*["BSpace"] * 16)
    vm.keys(hostname, literal=True)
    vm.keys("Enter")
    vm.wait_screen("2/4 Admin account", 60)
    for _ in range(2):
        vm.keys(password, literal=True)
        vm.keys("Enter")
    vm.wait_screen("3/4 Management network", 60)
    for _ in range(6):  # "keep": Enter through its fields to the next step
        vm.keys("Enter")
        try:
            vm.wait_screen("4/4 SSH and cluster", 10)
            break
        except WaitTimeout:
            continue
    vm.keys("Enter")  # SSH: off
    vm.keys("Enter")  # cluster: "create or join"
    vm.wait_screen("Cluster name:      _", 60)
    vm.keys(cluster, literal=True)
    vm.wait_screen(f"Cluster name:      {cluster}_", 60)
    vm.keys("Enter")
    vm.keys(secret, literal=True)
    vm.wait_screen("*" * len(secret) + "_", 60)
    vm.keys("Enter")
    vm.wait_screen(f"founding cluster {cluster!r}", 120)
