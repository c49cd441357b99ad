"""``python -m distro build``: the Quantix-OS image, its slot files and an update bundle.

Outputs in ``build/os`` (or ``--out``):

    quantix-os.img            GPT disk image: ESP, slot A (this build), slot B (empty), data
    root.squashfs, vmlinuz, initrd.img    slot A's files
    quantix-os-<version>.bundle           the same slot as a signed update bundle
    update.pub                the public key every image trusts for updates
    build.json                version, sizes, timings

Steps whose inputs did not change are skipped: the Debian base (per package
list), the wheels (per pyproject.toml), and the whole build when neither the
product's files nor the builder changed (``--force`` rebuilds it anyway).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from distro import disk, initrd, rootfs
from distro.paths import CACHE, DISTRO, OUT, PACKAGES, PRIVATE_KEY, PUBLIC_KEY, REPO
from distro.run import BuildError, log
from peer import __version__
from peer.osimage import bundle
from peer.osimage.layout import ESP_MIB, SLOT_MIB, image_size, plan

DATA_MIB = 1024


def inputs_hash(kernel: str, level: int, broken: bool) -> str:
    """Everything the image is made from, apart from the Debian packages' contents."""
    h = hashlib.sha256(f"{kernel}|{level}|{broken}".encode())
    roots = [REPO / p for p in PACKAGES] + [DISTRO, REPO / "webui/dist", REPO / "pyproject.toml"]
    for top in roots:
        files = [top] if top.is_file() else sorted(top.rglob("*")) if top.exists() else []
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                h.update(str(f.relative_to(REPO)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def ensure_key() -> None:
    if not PRIVATE_KEY.exists():
        log(f"update key: new signing key {PRIVATE_KEY} (keep it: hosts trust only it)")
        bundle.make_key(PRIVATE_KEY, PUBLIC_KEY)


def build(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    digest = inputs_hash(args.kernel, args.level, args.broken)
    version = args.version or f"{__version__}-{digest[:8]}"
    summary_path = out / "build.json"
    if not args.force and summary_path.exists():
        old = json.loads(summary_path.read_text())
        fresh = old.get("inputs") == digest and old.get("version") == version
        if fresh and all((out / n).exists() for n in old.get("outputs", [])):
            log(f"image: up to date ({version}); --force rebuilds it")
            return dict(old, build_s=round(time.monotonic() - started, 1), cached=True)
    ensure_key()
    steps: dict[str, float] = {}

    def step(name: str, t0: float) -> None:
        steps[name] = round(time.monotonic() - t0, 1)
        log(f"{name}: {steps[name]} s")

    t = time.monotonic()
    base_tar = rootfs.base(args.kernel)
    step("base", t)
    t = time.monotonic()
    wheel_dir = rootfs.wheels()
    step("wheels", t)
    t = time.monotonic()
    root = CACHE / "stage"
    rootfs.stage(base_tar, wheel_dir, root, version, PUBLIC_KEY)
    if args.broken:
        rootfs.break_peer(root)
    step("stage", t)
    t = time.monotonic()
    kver = initrd.kernel_version(root)
    shutil.copy(CACHE / "kernel" / f"vmlinuz-{kver}", out / "vmlinuz")
    mods = initrd.build(root, out / "initrd.img")
    step("initrd", t)
    t = time.monotonic()
    disk.squashfs(root, out / "root.squashfs", args.level)
    step("squashfs", t)
    outputs = ["root.squashfs", "vmlinuz", "initrd.img"]
    t = time.monotonic()
    name = f"quantix-os-{version}.bundle"
    for old_bundle in out.glob("quantix-os-*.bundle"):
        old_bundle.unlink()
    bundle.write(
        out / name,
        version,
        {n: out / n for n in bundle.FILES},
        bundle.load_private(PRIVATE_KEY),
    )
    shutil.copy(PUBLIC_KEY, out / "update.pub")
    outputs += [name, "update.pub"]
    step("bundle", t)
    if not args.bundle_only:
        t = time.monotonic()
        layout = plan(
            image_size(ESP_MIB, SLOT_MIB, DATA_MIB), data_mib=DATA_MIB, disk_guid=str(uuid.uuid4())
        )
        tmp = CACHE / "parts"
        tmp.mkdir(parents=True, exist_ok=True)
        disk.esp(
            tmp / "esp.img",
            ESP_MIB,
            version,
            {"a": (out / "vmlinuz", out / "initrd.img")},
            disk_id=layout.disk_id,
        )
        disk.data(tmp / "data.img", DATA_MIB)
        disk.disk(
            out / "quantix-os.img",
            layout,
            {
                "quantix-esp": tmp / "esp.img",
                "quantix-a": out / "root.squashfs",
                "quantix-data": tmp / "data.img",
            },
        )
        outputs.append("quantix-os.img")
        step("disk", t)
    summary = {
        "version": version,
        "inputs": digest,
        "kernel": kver,
        "initrd_modules": [Path(m).name for m in mods],
        "image_mb": round((out / "root.squashfs").stat().st_size / 1e6, 1),
        "slot_mib": SLOT_MIB,
        "broken": args.broken,
        "steps_s": steps,
        "build_s": round(time.monotonic() - started, 1),
        "outputs": outputs,
        "cached": False,
    }
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m distro", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="three Quantix-OS VMs become one cluster (distro/demo.py)")
    b = sub.add_parser("build", help="build the image (cached steps are skipped)")
    b.add_argument("--out", type=Path, default=OUT)
    b.add_argument("--version", help="the image's version (default: 0.1.0-<inputs hash>)")
    b.add_argument(
        "--kernel",
        default="linux-image-cloud-amd64",
        help="Debian kernel package (linux-image-amd64 for bare metal)",
    )
    b.add_argument(
        "--level", type=int, default=6, help="zstd level of the squashfs (19: smallest, slowest)"
    )
    b.add_argument(
        "--broken",
        action="store_true",
        help="a deliberately broken root (its peer never starts): rollback tests",
    )
    b.add_argument("--bundle-only", action="store_true", help="no disk image, only the bundle")
    b.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    return ap.parse_args(argv)


def locked_build(args: argparse.Namespace) -> dict[str, Any]:
    """One build at a time: they share ``.cache/os/stage`` and the outputs."""
    import fcntl

    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return build(args)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["demo"]:
        from distro.demo import main as demo

        return demo(raw[1:])
    args = parse_args(raw)
    try:
        summary = locked_build(args)
    except BuildError as e:
        log(f"build failed: {e}")
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "inputs"}, indent=2))
    return 0
