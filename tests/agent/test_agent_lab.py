"""The guest agent on a real 2-host lab, through the API of the host that does
NOT run the VM (with a token over HTTPS, as a person would): the IP in the API
and the CLI, exec, file write then read, a viewer refused, a quiesced snapshot
of a guest writing a file in a loop, and a graceful shutdown the guest logs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from chaos.lab import Lab
from peer.cli.main import main as cli
from testkit.guest import HOOK_PREFIX, POWEROFF_MARKER
from testkit.labguest import guest_vm, register_test_guest, serial
from tests.labs import host_api, lab_tls, short_lab
from tests.peer.test_ha_lab import running_on, three_voters
from tests.util import wait_for

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

GUEST_IP = "10.231.8.5"
BRIDGE = "qxagbr"


@pytest.fixture
def lab() -> Iterator[Lab]:
    with short_lab("a") as lab:
        yield lab


def call(url: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async def go() -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=lab_tls())) as s,
            s.request(method, f"{url}api/v1{path}", json=body, headers=headers) as r,
        ):
            return r.status, await r.json(content_type=None)

    return asyncio.run(go())


def run_cli(*argv: str) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(list(argv))
    assert code in (0, None), out.getvalue()
    return json.loads(out.getvalue())


def test_agent_through_a_peer_that_does_not_host_the_vm(lab: Lab) -> None:
    hosts = lab.up(2)
    wait_for(lambda: three_voters(hosts, 2), 90, "2 voters")
    for h in hosts:  # a bare bridge in each host's namespace for the guest's NIC
        lab.exec(h.name, ["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
        lab.exec(h.name, ["ip", "link", "set", BRIDGE, "up"], check=True)
    via = host_api(hosts[0])
    by_id = {host_api(h).get("/peer")["node_id"]: h for h in hosts}
    apis = {nid: host_api(h) for nid, h in by_id.items()}
    status, net = via.post("/networks", {"name": "agentnet", "type": "bridge", "bridge": BRIDGE})
    assert status == 201, net
    status, tok = via.post("/tokens", {"name": "agent-test", "user": "admin"})
    assert status == 201, tok
    token = tok["token"]
    status, _ = via.post(
        "/users", {"name": "watcher", "role": "viewer", "password": "pw-" + "v" * 12}
    )
    assert status == 201
    status, vtok = via.post("/tokens", {"name": "watcher", "user": "watcher"})
    assert status == 201, vtok

    boot = register_test_guest(via)
    body = guest_vm(
        "agent1",
        boot,
        desired="running",
        cmdline=f"{boot['cmdline']} qx.ip={GUEST_IP}/24",
        nics=[{"network": "agentnet"}],
        disks=[{"size_gib": 1, "pool": "lab"}],
    )
    status, vm = via.post("/vms", body)
    assert status == 201, vm
    vm_id = vm["id"]
    node = wait_for(lambda: running_on(hosts[0], vm_id), 180, "the guest running")
    started = time.monotonic()
    other = next(h for nid, h in by_id.items() if nid != node)

    # The IP, in the API of the other peer and in the CLI, within seconds.
    def agent() -> dict[str, Any]:
        return dict(
            (call(other.url, token, "GET", f"/vms/{vm_id}")[1].get("status") or {}).get("agent")
            or {}
        )

    ag = wait_for(lambda: GUEST_IP in (agent().get("ips") or []) and agent(), 120, "the agent's IP")
    print(f"ip_report after running: {time.monotonic() - started:.1f} s")
    assert ag["connected"] and ag["os"]["name"] == "Quantix test guest (busybox)"
    info = run_cli(
        "--url", other.url, "--token", token, "--insecure", "-o", "json", "guest", "info", vm_id
    )
    assert GUEST_IP in info["ips"]

    # Exec and files, forwarded by the other peer to the VM's host.
    base = f"/vms/{vm_id}/agent"
    status, res = call(
        other.url, token, "POST", f"{base}/exec", {"command": ["sh", "-c", "echo hi; exit 4"]}
    )
    assert status == 200, res
    assert (res["exit_code"], res["stdout"]) == (4, "hi\n")
    data = base64.b64encode(b"written through h-other").decode()
    status, res = call(
        other.url, token, "POST", f"{base}/files/write", {"path": "/tmp/w", "data_b64": data}
    )
    assert status == 200, res
    status, res = call(other.url, token, "POST", f"{base}/files/read", {"path": "/tmp/w"})
    assert status == 200 and res["data_b64"] == data, res
    status, res = call(other.url, vtok["token"], "POST", f"{base}/exec", {"command": ["true"]})
    assert status == 403, res
    events = via.get("/events?resource=vms&limit=500")["items"]
    assert any(e["kind"] == "vm.agent_exec" and e["resource_id"] == vm_id for e in events)

    # A quiesced snapshot of a guest writing a file in a loop: hooks run, the loop goes on.
    loop = "(while :; do echo x >> /tmp/loop; sleep 0.2; done) </dev/null >/dev/null 2>&1 &"
    status, res = call(other.url, token, "POST", f"{base}/exec", {"command": ["sh", "-c", loop]})
    assert status == 200, res

    def loop_size() -> int:
        st, r = call(other.url, token, "POST", f"{base}/files/read", {"path": "/tmp/loop"})
        return int(r["size"]) if st == 200 else 0

    wait_for(lambda: loop_size() > 0, 30, "the loop writing")
    status, snap = call(
        other.url, token, "POST", f"/vms/{vm_id}/snapshots", {"name": "q1", "quiesce": True}
    )
    assert status == 201, snap
    assert [h["hook"] for h in snap["quiesce"]["freeze_hooks"]] == ["10-mark"]
    assert [h["hook"] for h in snap["quiesce"]["thaw_hooks"]] == ["10-mark"]
    after = loop_size()
    wait_for(lambda: loop_size() > after, 30, "the loop writing after the thaw")
    log = serial(apis, vm_id)
    assert log.index(f"{HOOK_PREFIX} freeze") < log.index(f"{HOOK_PREFIX} thaw")

    # Graceful shutdown through the agent, asked of the other peer.
    status, task = call(other.url, token, "POST", f"/vms/{vm_id}/shutdown")
    assert status == 202, task
    wait_for(lambda: via.get(f"/vms/{vm_id}")["status"]["state"] == "stopped", 120, "stopped")
    log = serial(apis, vm_id)
    assert "quantix-agent: poweroff requested by the host" in log and POWEROFF_MARKER in log
    events = via.get("/events?resource=vms&limit=500")["items"]
    assert any(
        e["resource_id"] == vm_id and "through its guest agent" in e["message"] for e in events
    )
