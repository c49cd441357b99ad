"""A tiny test guest built from Debian packages already on the machine.

``ensure_test_guest()`` returns the paths of a kernel and an initramfs (built
once, cached under ``.cache/guest/``) that boot under TCG in a few seconds:

- the Debian kernel from ``/boot/vmlinuz-<ver>`` (package linux-image-amd64);
- an initramfs holding the static busybox (busybox-static), the kernel's virtio,
  ACPI button and evdev modules from ``/lib/modules/<ver>`` and an ``/init``.

What the guest does, all on its serial console (ttyS0, logged by libvirt):

- prints ``QUANTIX-GUEST-READY`` once its modules are loaded;
- prints ``QUANTIX-BLOCK: vda vdb ...`` at boot and whenever the set of block
  devices changes (checked every half second), so a hot-plugged disk shows up;
- prints ``QUANTIX-AGENT-PORT: <name> <dev>`` for each virtio-serial port;
- prints ``QUANTIX-TICK <n>`` every two seconds, ``n`` counting up from 1 in the
  shell's memory: after a live migration the count goes on where it was (a
  restarted guest would start again at 1);
- powers off on an ACPI power-button press (busybox acpid reads the button's
  input event), printing ``QUANTIX-GUEST-POWEROFF`` first;
- with a NIC (``eth0``): asks DHCP for an address (busybox udhcpc, with the MTU
  option) and prints ``QUANTIX-NET: eth0 <ip> <mtu>`` for each lease; with
  ``qx.ping=<a>,<b>`` on the kernel command line it pings those addresses or names
  twice a second, printing ``QUANTIX-PING <target> ok <ms>`` or ``... lost``; with
  ``qx.listen=<port>,...`` it answers TCP connections on those ports with
  ``QUANTIX-HELLO <hostname>``; ``qx.hostname=<name>`` names the guest (sent in
  its DHCP request); ``qx.connect=<host>:<port>,...`` tries those TCP ports each
  second and prints ``QUANTIX-CONNECT <host>:<port> ok|refused``.
- with ``qx.datafs=vda``: makes a fresh ext2 on that disk and mounts it on
  ``/data`` with the ext4 driver (a file system the agent can freeze), printing
  ``QUANTIX-DATAFS /data /dev/vda``;
- gives ``eth0`` the static address ``qx.ip=ADDR/LEN`` from the kernel command
  line, if any (besides DHCP);
- runs the real guest agent (``agent.guest``) on Debian's python3-minimal (its
  interpreter, shared libraries and the files of libpython3.11-minimal, nothing
  more, so an import the minimal Python lacks fails here as in a real guest),
  unless the kernel command line says ``qx.agent=0``; the agent logs to the
  console. ``poweroff``/``reboot`` signal the init (USR2/TERM) as busybox's init
  expects, which prints ``QUANTIX-GUEST-POWEROFF`` or ``QUANTIX-GUEST-REBOOT``.

Boot it by direct kernel boot: a VM spec with ``kernel``, ``initrd`` and
``cmdline`` (``TEST_GUEST_CMDLINE``). Other engineers' lab tests use the same
function. The cpio archive is written here in Python (newc format), so nothing
but the packages above is needed.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from hypervisor.errors import HypervisorError

MARKER = "QUANTIX-GUEST-READY"
BLOCK_PREFIX = "QUANTIX-BLOCK:"
POWEROFF_MARKER = "QUANTIX-GUEST-POWEROFF"
TICK_PREFIX = "QUANTIX-TICK"
NET_PREFIX = "QUANTIX-NET:"
PING_PREFIX = "QUANTIX-PING"
CONNECT_PREFIX = "QUANTIX-CONNECT"
HELLO_PREFIX = "QUANTIX-HELLO"
# no_timer_check: under a loaded TCG host the kernel's IO-APIC timer check can fail
# ("MP-BIOS bug: 8254 timer not connected") and the boot stall.
TEST_GUEST_CMDLINE = "console=ttyS0 quiet panic=-1 nokaslr no_timer_check"
# Enough for the kernel and the unpacked initramfs, small enough for 50 guests.
TEST_GUEST_MEMORY_MIB = 160

# Load order matters: insmod does not resolve dependencies.
MODULES = (
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/drivers/char/virtio_console.ko",
    "kernel/drivers/block/virtio_blk.ko",
    "kernel/net/core/failover.ko",
    "kernel/drivers/net/net_failover.ko",
    "kernel/drivers/net/virtio_net.ko",
    "kernel/drivers/acpi/button.ko",
    "kernel/drivers/input/evdev.ko",
)

BUSYBOX = Path("/bin/busybox")
# Bump when the guest's contents change, so caches are rebuilt.
GUEST_FORMAT = 8

# Networking, only when the guest has a NIC (and so only then a few processes).
NET_SCRIPT = f"""# busybox-static's libc cannot resolve names (no NSS): ask DNS with nslookup.
resolve() {{
  case "$1" in
    *[!0-9.]*) nslookup "$1" 2>/dev/null |
      awk '/^Name:/ {{n=1}} n && /^Address/ {{print $NF; exit}}';;
    *) echo "$1";;
  esac
}}
for w in $(cat /proc/cmdline); do
  case "$w" in
    qx.ping=*) PING=$(echo "${{w#qx.ping=}}" | tr , ' ');;
    qx.listen=*) LISTEN=$(echo "${{w#qx.listen=}}" | tr , ' ');;
    qx.connect=*) CONNECT=$(echo "${{w#qx.connect=}}" | tr , ' ');;
    qx.hostname=*) hostname "${{w#qx.hostname=}}";;
  esac
done
if [ -e /sys/class/net/eth0 ]; then
  ip link set lo up
  ip link set eth0 up
  udhcpc -i eth0 -f -O mtu -x hostname:$(hostname) -s /etc/udhcpc.script -t 100000 -T 1 -A 1 \
    >/dev/null 2>&1 &
  for p in $LISTEN; do
    (while true; do echo "{HELLO_PREFIX} $(hostname)" | nc -l -p "$p" >/dev/null 2>&1; done) &
  done
  [ -n "$PING" ] && (while true; do
    for t in $PING; do
      if out=$(ping -c 1 -W 1 "$(resolve "$t")" 2>/dev/null); then
        ms=${{out#*time=}}; echo "{PING_PREFIX} $t ok ${{ms%% *}}"
      else
        echo "{PING_PREFIX} $t lost"
      fi
    done
    sleep 0.5
  done) &
  [ -n "$CONNECT" ] && (while true; do
    for t in $CONNECT; do
      if echo | timeout 2 nc "$(resolve "${{t%:*}}")" "${{t#*:}}" 2>/dev/null |
          grep -q {HELLO_PREFIX}; then
        echo "{CONNECT_PREFIX} $t ok"
      else
        echo "{CONNECT_PREFIX} $t refused"
      fi
    done
    sleep 1
  done) &
fi
"""
REBOOT_MARKER = "QUANTIX-GUEST-REBOOT"
DATAFS_PREFIX = "QUANTIX-DATAFS"
# A real file system to freeze (qx.datafs=vda: a fresh ext2, mounted by the ext4
# driver on /data); loaded only when asked for, and only in the agent's guest.
DATAFS_MODULES = (
    "kernel/lib/crc16.ko",
    "kernel/crypto/crc32c_generic.ko",
    "kernel/fs/mbcache.ko",
    "kernel/fs/jbd2/jbd2.ko",
    "kernel/fs/ext4/ext4.ko",
)
HOOK_PREFIX = "QUANTIX-HOOK"
AGENT_DIR = "usr/lib/quantix-agent"

INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /etc/modules.order); do insmod "$m" 2>/dev/null; done
for p in /sys/class/virtio-ports/*; do
  [ -e "$p/name" ] && echo "QUANTIX-AGENT-PORT: $(cat $p/name) /dev/${{p##*/}}"
done
acpid -c /etc/acpi -l /tmp/acpid.log
hostname quantix-guest
{NET_SCRIPT}for arg in $(cat /proc/cmdline); do
  case "$arg" in qx.ip=*) ip link set eth0 up; ip addr add "${{arg#qx.ip=}}" dev eth0;; esac
done
# What busybox poweroff/reboot (the agent's commands) send to init.
trap 'echo "{POWEROFF_MARKER}"; sync; poweroff -f' USR2
trap 'echo "{REBOOT_MARKER}"; sync; reboot -f' TERM
for arg in $(cat /proc/cmdline); do
  case "$arg" in qx.datafs=*)
    dev="${{arg#qx.datafs=}}"
    for m in $(cat /etc/modules.datafs); do insmod "$m" 2>/dev/null; done
    mkdir -p /data
    mke2fs -q "/dev/$dev" >/dev/null 2>&1 && mount -t ext4 "/dev/$dev" /data &&
      echo "{DATAFS_PREFIX} /data /dev/$dev";;
  esac
done
if [ -x /usr/bin/python3 ] && ! grep -q "qx.agent=0" /proc/cmdline; then
  PYTHONPATH=/{AGENT_DIR} /usr/bin/python3 -m agent.guest --wait 20 </dev/null >/dev/console 2>&1 &
fi
echo "{MARKER}"
last=""
round=0
while true; do
  # Shell built-ins only (no fork per round): fifty idle guests stay cheap under TCG.
  now=""
  for b in /sys/block/*; do
    case "${{b##*/}}" in loop*|ram*|"*") ;; *) now="$now${{b##*/}} ";; esac
  done
  if [ "$now" != "$last" ]; then echo "{BLOCK_PREFIX} $now"; last="$now"; fi
  round=$((round + 1))
  [ $((round % 4)) -eq 0 ] && echo "{TICK_PREFIX} $((round / 4))"
  sleep 0.5
done
"""

UDHCPC_SCRIPT = f"""#!/bin/sh
# busybox udhcpc calls this with the lease in the environment.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "${{router%% *}}"
    : > /etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "{NET_PREFIX} $interface $ip ${{mtu:-1500}}" > /dev/console
    ;;
esac
"""

POWEROFF_SCRIPT = f"""#!/bin/sh
echo "{POWEROFF_MARKER}" > /dev/console
sync
poweroff -f
"""


CHPASSWD_SCRIPT = """#!/bin/sh
# The test guest's stand-in for shadow's chpasswd (busybox-static has none):
# "user:password" lines on stdin, a SHA-512 crypt hash into /etc/shadow.
while IFS=: read -r user pass; do
  grep -q "^$user:" /etc/shadow || { echo "chpasswd: no user $user" >&2; exit 1; }
  hash=$(mkpasswd -m sha512 "$pass") || exit 1
  sed -i "s|^$user:[^:]*:|$user:$hash:|" /etc/shadow
done
"""

HOOK_SCRIPT = f"""#!/bin/sh
# A pre-freeze/post-thaw hook as an admin would write one: it says when it ran.
echo "{HOOK_PREFIX} $1 $(date +%s)" > /dev/console
echo "$1" >> /tmp/quantix-hooks.log
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\nquantix:x:1000:1000::/home/quantix:/bin/sh\n"  # noqa: S105
SHADOW = "root:*:19000:0:99999:7:::\nquantix:*:19000:0:99999:7:::\n"
GROUP = "root:x:0:\nquantix:x:1000:\n"
OS_RELEASE = (
    'ID=quantix-testguest\nNAME="Quantix test guest"\n'
    'PRETTY_NAME="Quantix test guest (busybox)"\nVERSION_ID=1\n'
)


@dataclass(frozen=True)
class TestGuest:
    """Where the built guest lives; pass these into a VM spec."""

    kernel: Path
    initrd: Path
    cmdline: str
    kernel_version: str
    memory_mib: int = TEST_GUEST_MEMORY_MIB

    def spec_fields(self) -> dict[str, object]:
        """The VM-spec fields that boot this guest by direct kernel boot."""
        return {"kernel": str(self.kernel), "initrd": str(self.initrd), "cmdline": self.cmdline}


class TestGuestUnavailable(HypervisorError):
    """The packages the test guest is built from are missing."""

    code = "test_guest_unavailable"


def default_cache_dir() -> Path:
    env = os.environ.get("QUANTIX_GUEST_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / ".cache" / "guest"


def find_kernel(boot: Path = Path("/boot"), modules: Path = Path("/lib/modules")) -> str:
    """The newest kernel version that has both a vmlinuz and its modules."""
    versions = []
    for k in boot.glob("vmlinuz-*"):
        ver = k.name.removeprefix("vmlinuz-")
        if (modules / ver / MODULES[0]).exists():
            versions.append(ver)
    if not versions:
        raise TestGuestUnavailable(
            "no /boot/vmlinuz-* with matching /lib/modules: install linux-image-amd64"
        )
    return sorted(versions, key=_version_key)[-1]


def _version_key(v: str) -> list[object]:
    out: list[object] = []
    for part in v.replace("-", ".").split("."):
        out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return out


def ensure_test_guest(cache_dir: Path | None = None, agent: bool = True) -> TestGuest:
    """Build the test guest once (idempotent, safe across processes); return its
    paths. ``agent=False``: the guest without Python and the agent (the bench's
    baseline for what the agent adds to a boot)."""
    cache = cache_dir or default_cache_dir()
    ver = find_kernel()
    if not BUSYBOX.exists():
        raise TestGuestUnavailable(f"{BUSYBOX} is missing: install busybox-static")
    cache.mkdir(parents=True, exist_ok=True)
    content = f"{GUEST_FORMAT}:{ver}:{BUSYBOX.stat().st_size}:{INIT_SCRIPT}:{UDHCPC_SCRIPT}"
    if agent:
        content += ":" + _agent_fingerprint()
    key = hashlib.sha256(content.encode()).hexdigest()[:12]
    kernel = cache / f"vmlinuz-{ver}"
    initrd = cache / f"initrd-{'agent-' if agent else ''}{key}.img"
    guest = TestGuest(kernel, initrd, TEST_GUEST_CMDLINE, ver)
    if kernel.exists() and initrd.exists():
        return guest
    # Two test workers may build at once: one builds, the other waits on the lock.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kernel.exists():
            tmp = kernel.with_suffix(".tmp")
            tmp.write_bytes(Path(f"/boot/vmlinuz-{ver}").read_bytes())
            tmp.replace(kernel)
        if not initrd.exists():
            tmp = initrd.with_suffix(".tmp")
            tmp.write_bytes(build_initramfs(ver, agent=agent))
            tmp.replace(initrd)
    return guest


def build_initramfs(
    kernel_version: str, modules_root: Path = Path("/lib/modules"), agent: bool = False
) -> bytes:
    """The gzip'd newc cpio archive of the guest's root file system."""
    w = CpioWriter()
    dirs = ("bin", "dev", "proc", "sys", "tmp", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "root")
    for d in (*dirs, "home", "home/quantix"):
        w.add_dir(d)
    w.add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    w.add_symlink("bin/sh", "busybox")
    w.add_file("init", INIT_SCRIPT.encode(), 0o755)
    # busybox acpid runs /etc/acpi/<action> for an event; the power button's is PWRF/00000080.
    w.add_file("etc/acpi/PWRF/00000080", POWEROFF_SCRIPT.encode(), 0o755)
    w.add_file("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    w.add_file("etc/passwd", PASSWD.encode(), 0o644)
    w.add_file("etc/shadow", SHADOW.encode(), 0o600)
    w.add_file("etc/group", GROUP.encode(), 0o644)
    w.add_file("etc/os-release", OS_RELEASE.encode(), 0o644)
    w.add_dir("lib/modules")
    order = []
    for rel in MODULES:
        src = modules_root / kernel_version / rel
        if not src.exists():
            raise TestGuestUnavailable(f"kernel module {src} is missing")
        dst = f"lib/modules/{src.name}"
        w.add_file(dst, src.read_bytes(), 0o644)
        order.append("/" + dst)
    w.add_file("etc/modules.order", ("\n".join(order) + "\n").encode(), 0o644)
    # The console node must exist before devtmpfs is mounted, for init's first output.
    w.add_node("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    if agent:
        from testkit.guestpython import add_agent, add_python_minimal

        add_python_minimal(w)
        add_agent(w, AGENT_DIR)
        w.add_file("bin/chpasswd", CHPASSWD_SCRIPT.encode(), 0o755)
        extra = []
        for rel in DATAFS_MODULES:
            src = modules_root / kernel_version / rel
            if src.exists():
                w.add_file(f"lib/modules/{src.name}", src.read_bytes(), 0o644)
                extra.append(f"/lib/modules/{src.name}")
        w.add_file("etc/modules.datafs", ("\n".join(extra) + "\n").encode(), 0o644)
        w.add_dir("etc/quantix-agent")
        w.add_dir("etc/quantix-agent/hooks.d")
        w.add_file("etc/quantix-agent/hooks.d/10-mark", HOOK_SCRIPT.encode(), 0o755)
    return gzip.compress(w.finish(), compresslevel=6, mtime=0)


def _agent_fingerprint() -> str:
    from testkit.guestpython import fingerprint

    return fingerprint()


class CpioWriter:
    """A minimal writer of the newc ("070701") cpio format the kernel unpacks."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 1
        self.dirs: set[str] = set()

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        namez = name.encode() + b"\0"
        fields = [
            self._ino,
            mode,
            0,
            0,
            1,
            0,
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(namez),
            0,
        ]
        self._ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._buf.write(hdr + namez)
        self._pad()
        self._buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self._buf.write(b"\0" * (-self._buf.tell() % 4))

    def add_dir(self, name: str) -> None:
        if name not in self.dirs:
            self.dirs.add(name)
            self._entry(name, stat.S_IFDIR | 0o755)

    def add_parents(self, name: str) -> None:
        """Each directory above ``name`` not added yet."""
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.add_dir("/".join(parts[:i]))

    def add_file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def add_symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def add_node(self, name: str, mode: int, major: int, minor: int) -> None:
        self._entry(name, mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self._buf.getvalue()
