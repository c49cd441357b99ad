"""The same image boots as an installer: with an answer file on its ESP it writes
itself to a blank disk, reboots, and the installed host comes up in slot A and
forms the cluster the answers named."""

import json
import socket
import ssl
import subprocess
import urllib.request

import pytest

from testkit.osvm import ESP_OFFSET, OsVm
from testkit.wait import wait_for

# TCG boots on a shared machine: minutes each under load (the default limit is 10 min).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("quantix-os"), pytest.mark.timeout(5400)]
BOOT_S = 900


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(vm: OsVm) -> dict:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{vm.api_port}/api/v1/health"
    with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
        return json.loads(r.read())


def test_unattended_install_to_a_blank_disk_then_boot_it(os_image, tmp_path):
    # A USB stick: the image, with an answer file put on its ESP.
    answers = "disk: /dev/vdb\nhostname: qx-inst\n"
    answers += "cluster: {name: osinstall, secret: install-secret-123}\n"
    target = tmp_path / "target.img"
    with open(target, "wb") as f:
        f.truncate(4 * 1024**3)
    vm = OsVm(
        "inst",
        tmp_path,
        image=os_image,
        api_port=_free_port(),
        disks=[target],
        esp_files={"quantix/install.yaml": answers},
    )
    vm.prepare()
    vm.start()
    try:
        vm.wait_log("quantix install: installed in", BOOT_S)
        # The installed host: it formed the cluster of the answers on its own.
        wait_for(
            lambda: _health(vm)["raft_role"] == "leader",
            BOOT_S,
            "the installed host leading cluster osinstall",
            interval=2,
            explain=lambda: vm.screen()[-600:],
        )
    finally:
        vm.stop()
    table = json.loads(subprocess.run(["sfdisk", "--json", str(target)],
                                      capture_output=True, check=True).stdout)  # fmt: skip
    names = [p["name"] for p in table["partitiontable"]["partitions"]]
    assert names == ["quantix-esp", "quantix-a", "quantix-b", "quantix-data"]
    entries = subprocess.run(
        ["mdir", "-b", "-i", f"{target}@@{ESP_OFFSET}", "::/loader/entries"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "quantix-000001-a.conf" in entries
