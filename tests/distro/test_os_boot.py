"""The built image boots (UEFI, systemd-boot, slot A) to a serving API, with the
console on its serial line and no login prompt; the first-boot wizard, driven on
that serial line, founds a cluster; an update uploaded through the API comes up
on slot B; a broken update rolls back to B by itself."""

import socket

import pytest

from testkit.osvm import OsApi, OsVm, run_wizard
from testkit.wait import wait_for

# TCG boots on a shared machine: minutes each under load (the default limit is 10 min).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("quantix-os"), pytest.mark.timeout(5400)]
# TCG on a shared 2-core machine: a boot takes 20-60 s idle, many minutes under load.
BOOT_S = 1200
PASSWORD = "correct-horse"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _os(api: OsApi) -> dict:
    return api.get("/host/os")


def test_boot_wizard_update_and_rollback(os_image, update_bundles, tmp_path):
    vm = OsVm("boot", tmp_path, image=os_image, api_port=_free_port())
    vm.prepare()
    vm.start()
    try:
        _boot_and_wizard(vm)
        api = OsApi(vm)
        # the peer sets the wizard's password on the new cluster's admin shortly after
        wait_for(lambda: api.login("admin", PASSWORD), 120, "the admin's login", interval=2)
        peer = api.get("/peer")
        assert peer["hostname"] == "qx-boot"
        disc = peer["discovery"]
        disc = disc.get("discovery", disc)  # the daemon nests its provider's answer
        assert disc["announcing"] not in ("factory", None)  # on mDNS as a member now
        status = _os(api)
        assert (status["slot"], status["rolled_back"]) == ("a", None)

        # An update through the API: slot B, on trial, then blessed.
        done = api.upload_bundle(update_bundles["good"])
        assert (done["slot"], done["version"]) == ("b", "9.0.0-good")
        wait_for(lambda: vm.health() == 0, 120, "the host going down to reboot", interval=0.5)
        api = _back(vm)
        status = _os(api)
        assert (status["slot"], status["version"]) == ("b", "9.0.0-good")
        assert api.get("/peer")["hostname"] == "qx-boot"  # kept on the data partition
        wait_for(
            lambda: next(e["state"] for e in _os(api)["entries"]) == "good",
            120,
            "slot B blessed by systemd-bless-boot",
            interval=2,
        )

        # A broken update (its peer never starts) rolls back to B without anybody.
        done = api.upload_bundle(update_bundles["broken"])
        assert done["slot"] == "a"
        wait_for(lambda: vm.health() == 0, 120, "the host going down to reboot", interval=0.5)
        api = _back(vm)
        status = _os(api)
        assert (status["slot"], status["version"]) == ("b", "9.0.0-good")
        assert status["rolled_back"]["slot"] == "a"
    finally:
        vm.stop()


def _boot_and_wizard(vm: OsVm) -> None:
    vm.wait_api(BOOT_S)
    health = wait_for(vm.health_json, 60, "the health answer")  # slirp may reset once
    assert health["raft_role"] == "factory"
    screen = vm.wait_screen("Welcome to Quantix", 300)
    assert "login:" not in screen  # the console, never a login prompt
    run_wizard(vm, "qx-boot", PASSWORD, "osboot", "a-secret-of-24-characters")
    wait_for(lambda: vm.health_json()["raft_role"] == "leader", 300, "the new cluster")
    vm.keys("Enter")
    vm.wait_screen("osboot", 120)


def _back(vm: OsVm) -> OsApi:
    """After a reboot: the API answers again and the admin can log in."""
    wait_for(lambda: vm.health_json()["raft_role"] == "leader", BOOT_S, "the host back", interval=2)
    api = OsApi(vm)
    wait_for(lambda: api.login("admin", PASSWORD), 120, "the admin's login", interval=2)
    return api
