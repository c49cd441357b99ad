"""Loud failures on real hosts: a host whose hypervisor does not load says so in
its node record ("cannot run VMs") and the scheduler gives it no VMs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from chaos.lab import Lab
from tests.labs import short_lab
from tests.peer.test_ha_lab import api, running_on, three_voters
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

# A URI no driver on this machine answers (no libvirtd for Xen): the driver fails.
NO_HYPERVISOR = "xen:///system"


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("c") as lab:
        yield lab


def test_a_host_that_cannot_run_vms_says_so_and_gets_none(lab: Lab) -> None:
    hosts = lab.up(3, start=False)
    broken = hosts[2]
    conf = broken.config.read_text()
    broken.config.write_text(
        re.sub(r"^libvirt_uri: .*$", f'libvirt_uri: "{NO_HYPERVISOR}"', conf, flags=re.M)
    )
    for h in hosts:
        lab.start(h.name)
    wait_for(lambda: three_voters(hosts), 120, "3 voters")
    broken_id = api(broken).get("/peer")["node_id"]

    def condition() -> Any:
        node = api(hosts[0]).get(f"/nodes/{broken_id}")
        return (node.get("conditions") or {}).get("cannot_run_vms")

    message = wait_for(condition, 30, "the cannot_run_vms condition")
    assert NO_HYPERVISOR in message
    ids = []
    for i in range(3):
        spec = {"name": f"v{i}", "vcpus": 1, "memory_mib": 64, "desired": "running"}
        status, body = api(hosts[0]).post("/vms", spec)
        assert status == 201, body
        ids.append(body["id"])
    wait_for(lambda: all(running_on(hosts[0], v) for v in ids), 120, "the VMs running")
    placed = {api(hosts[0]).get(f"/vms/{v}")["placement"] for v in ids}
    assert broken_id not in placed
