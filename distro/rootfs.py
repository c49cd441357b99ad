"""The root file system: a cached Debian base (mmdebstrap), then the product on top.

The base depends only on ``packages.txt`` and the kernel package, so it is built
once and kept as a tarball keyed by their hash; the downloaded packages are kept
too (``.cache/os/debs``), so even a new base downloads only what changed. The
product layer (the Python packages, their wheels, ``distro/rootfs``, systemd unit
state) is laid on a fresh copy of the base at every build: seconds, not minutes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tomllib
from pathlib import Path

from distro.paths import CACHE, DISTRO, PACKAGES, REPO
from distro.run import log, run

SUITE = "bookworm"
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# Documentation, manuals and translations: not on an appliance.
DPKG_OPTS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
PYTHON = "python3.11"
SITE = Path("opt/quantix/lib") / PYTHON / "site-packages"
ENABLE = (
    "quantix-peer.service",
    "quantix-health.service",
    "quantix-firstboot.service",
    "quantix-install.service",
    "quantix-console@tty1.service",
    "quantix-console@ttyS0.service",
    "systemd-networkd.service",
)
DISABLE = ("ssh.service",)
# No login prompt anywhere: the console owns tty1 and the serial line.
MASK = (
    "getty@.service",
    "serial-getty@.service",
    "autovt@.service",
    "console-getty.service",
    # OVN's own units: the peer supervises ovn-controller and the central daemons.
    "ovn-host.service",
    "ovn-controller.service",
    "ovn-central.service",
    "ovn-northd.service",
    "ovn-ovsdb-server-nb.service",
    "ovn-ovsdb-server-sb.service",
)


def packages(kernel: str) -> list[str]:
    names = [
        line.split("#", 1)[0].strip() for line in (DISTRO / "packages.txt").read_text().splitlines()
    ]
    names = [n for n in names if n]
    return [kernel if n == "linux-image-cloud-amd64" else n for n in names]


def base(kernel: str) -> Path:
    """The Debian base root as a tarball (built once per package list)."""
    pkgs = packages(kernel)
    key = hashlib.sha256("\n".join([SUITE, *MIRRORS, *DPKG_OPTS, *pkgs]).encode()).hexdigest()
    tar = CACHE / f"base-{key[:16]}.tar"
    if tar.exists():
        log(f"base root: cached ({tar.name})")
        return tar
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    log(f"base root: mmdebstrap {SUITE} with {len(pkgs)} packages (downloads cached in {debs})")
    argv: list[str | Path] = [
        "mmdebstrap",
        "--mode=unshare",
        "--variant=apt",
        "--format=tar",
        "--include=" + ",".join(pkgs),
        '--aptopt=Apt::Install-Recommends "false"',
        *[f"--dpkgopt={o}" for o in DPKG_OPTS],
        '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
        f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
        f"--customize-hook=sync-out /var/cache/apt/archives {debs}",
        "--skip=download/empty",
        SUITE,
        str(tar) + ".part",
        *MIRRORS,
    ]
    run(argv)
    os.replace(str(tar) + ".part", tar)
    for old in CACHE.glob("base-*.tar"):
        if old != tar:
            old.unlink()  # one base is kept: they are ~0.6 GB each
    return tar


def wheels() -> Path:
    """Wheels of the product's dependencies (built once per pyproject.toml)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps: list[str] = list(project["dependencies"])
    key = hashlib.sha256("\n".join(deps).encode()).hexdigest()[:16]
    out = CACHE / f"wheels-{key}"
    if (out / ".done").exists():
        log(f"wheels: cached ({out.name})")
        return out
    log(f"wheels: building {len(deps)} dependencies")
    out.mkdir(parents=True, exist_ok=True)
    run([REPO / ".venv/bin/pip", "wheel", "-q", "--wheel-dir", out, *deps])
    (out / ".done").write_text("\n".join(deps))
    return out


def stage(base_tar: Path, wheel_dir: Path, root: Path, version: str, public_key: Path) -> None:
    """A fresh root in ``root``: the base, the product, its configuration."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    run(["tar", "-xf", base_tar, "-C", root, "--numeric-owner"])
    kernels = CACHE / "kernel"
    kernels.mkdir(parents=True, exist_ok=True)
    for k in (root / "boot").glob("vmlinuz-*"):
        shutil.copy(k, kernels / k.name)  # the ESP gets it; the root does not keep it
    _trim(root)
    _install_product(root, wheel_dir)
    shutil.copytree(DISTRO / "rootfs", root, dirs_exist_ok=True, symlinks=True)
    share = root / "usr/share/quantix"
    share.mkdir(parents=True, exist_ok=True)
    shutil.copy(public_key, share / "update.pub")
    (root / "usr/lib/quantix/version").write_text(version + "\n")
    _os_release(root, version)
    (root / "etc/hostname").write_text("quantix\n")
    (root / "etc/machine-id").write_text("")  # the initrd puts the host's own in place
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # every host makes its own, on the data partition
    _units(root)


def _trim(root: Path) -> None:
    """What an appliance root does not need: the kernel's own copy (the ESP has
    it), Debian's initramfs, apt's lists and caches."""
    for p in (root / "boot").iterdir():
        p.unlink() if p.is_file() or p.is_symlink() else shutil.rmtree(p)
    for d in ("var/cache/apt", "var/lib/apt/lists"):
        shutil.rmtree(root / d, ignore_errors=True)
        (root / d).mkdir(parents=True)
    for link in ("vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"):
        (root / link).unlink(missing_ok=True)


def _install_product(root: Path, wheel_dir: Path) -> None:
    """A virtualenv at /opt/quantix built from the outside: the wheels unpacked with
    the build's pip, the product's packages copied, everything byte-compiled (the
    root is read-only at run time, so no .pyc could be written there)."""
    venv = root / "opt/quantix"
    site = root / SITE
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin/python").symlink_to(f"/usr/bin/{PYTHON}")
    (venv / "bin/python3").symlink_to("python")
    (venv / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11\n"
    )
    whls = sorted(wheel_dir.glob("*.whl"))
    run(
        [
            REPO / ".venv/bin/pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--no-compile",
            "--target",
            site,
            *whls,
        ]
    )
    shutil.rmtree(site / "bin", ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
    for pkg in PACKAGES:
        if (REPO / pkg).is_dir():
            shutil.copytree(REPO / pkg, site / pkg, ignore=ignore)
    cli = venv / "bin/quantix"
    cli.write_text(
        "#!/opt/quantix/bin/python\nimport sys\n\nfrom peer.cli.main import main\n\n"
        "sys.exit(main())\n"
    )
    cli.chmod(0o755)
    dist = REPO / "webui/dist"
    if (dist / "index.html").exists():
        shutil.copytree(dist, venv / "share/webui")
    else:
        log("warning: webui/dist is not built (scripts/setup.sh builds it): no web UI in the image")
    run(
        [
            f"/usr/bin/{PYTHON}",
            "-m",
            "compileall",
            "-q",
            "-j",
            "2",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            root,
            "-p",
            "/",
            site,
        ]
    )


def _os_release(root: Path, version: str) -> None:
    (root / "etc/os-release").unlink(missing_ok=True)
    (root / "usr/lib/os-release").write_text(
        'NAME="Quantix-OS"\n'
        f'PRETTY_NAME="Quantix-OS {version}"\n'
        "ID=quantix\nID_LIKE=debian\n"
        f"VERSION_ID={version}\n"
        'HOME_URL="https://quantix.invalid/"\n'
    )
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")


def _units(root: Path) -> None:
    systemctl = ["systemctl", f"--root={root}", "--quiet"]
    run([*systemctl, "enable", *ENABLE])
    run([*systemctl, "disable", *DISABLE])
    run([*systemctl, "mask", *MASK])
    run([*systemctl, "set-default", "multi-user.target"])


def break_peer(root: Path) -> None:
    """A deliberately broken root for rollback tests: the peer never starts, so the
    health check fails and the slot is never blessed."""
    drop = root / "etc/systemd/system/quantix-peer.service.d"
    drop.mkdir(parents=True, exist_ok=True)
    (drop / "broken.conf").write_text(
        "# A deliberately broken update (python -m distro build --broken).\n"
        "[Service]\nExecStart=\nExecStart=/bin/false\n"
    )
