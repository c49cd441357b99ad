"""The .deb and the wheel hold a runnable agent (checked with Debian's own
python3.11 in isolated mode, as a guest with python3-minimal runs it)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from agent import __version__
from agent.dist.deb import build_deb
from agent.dist.wheel import build_wheel

DEBIAN_PY = "/usr/bin/python3"


def test_deb_installs_the_agent_its_unit_and_udev_rule(tmp_path: Path) -> None:
    deb = build_deb(tmp_path / "out")
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for f in (
        "./usr/sbin/quantix-agent",
        "./lib/systemd/system/quantix-agent.service",
        "./lib/udev/rules.d/60-quantix-agent.rules",
        "./usr/lib/quantix-agent/agent/guest/main.py",
    ):
        assert f in listing
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True)
    assert "python3-minimal" in info.stdout
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    launcher = (root / "usr/sbin/quantix-agent").read_text()
    # The launcher's own command, pointed at the extracted tree.
    code = launcher.split("-c '", 1)[1].split('\' "$@"', 1)[0].replace("\\\n", "")
    code = code.replace('"/usr/lib/quantix-agent"', repr(str(root / "usr/lib/quantix-agent")))
    out = subprocess.run([DEBIAN_PY, "-I", "-c", code, "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == __version__, out.stderr


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    whl = build_wheel(tmp_path / "out")
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        assert "agent/guest/ops.py" in names
        assert not any(n.startswith(("peer/", "hypervisor/")) for n in names)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(whl),
        ],
        check=True,
    )
    out = subprocess.run(
        [DEBIAN_PY, "-m", "agent.guest", "--version"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target)},
        cwd=tmp_path,
    )
    assert out.stdout.strip() == __version__, out.stderr


def test_cloud_init_option_carries_and_installs_the_deb() -> None:
    import base64

    import yaml

    from hypervisor.cloudinit import user_data
    from hypervisor.errors import InvalidSpec
    from hypervisor.spec import parse_cloud_init

    ci = parse_cloud_init({"install_agent": True}, "vm1")
    assert ci is not None and ci.install_agent
    doc = yaml.safe_load(user_data(ci))
    deb = base64.b64decode(doc["write_files"][0]["content"])
    assert deb[:8] == b"!<arch>\n"  # an ar archive: the .deb
    assert "dpkg -i" in doc["runcmd"][0][2]
    try:
        parse_cloud_init({"install_agent": True, "user_data": "#cloud-config\n"}, "vm1")
        raise AssertionError("install_agent with user_data was accepted")
    except InvalidSpec:
        pass
