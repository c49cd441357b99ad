"""The real agent in the test guest (Debian's python3-minimal, TCG), driven by
the peer's side (AgentManager + Reconciler + LocalStore + the embedded driver).

One boot covers what an admin uses: the report (OS, hostname, IPs) in
``vm_status.agent``, exec, file write then read, password, SSH keys, a quiesced
snapshot whose hooks run, and a graceful shutdown through the agent that the
guest's own log shows. A second guest without an agent falls back to ACPI."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid

import pytest

from peer.agent.manager import AgentManager
from peer.agent.quiesce import quiesced
from peer.reconciler import Reconciler
from raft.store import LocalStore
from testkit.guest import HOOK_PREFIX, MARKER, POWEROFF_MARKER
from tests.hypervisor.embed import guest_spec, new_id, wait_serial
from tests.util import async_wait_for

NODE = "n1"
GUEST_IP = "10.231.7.5"


@pytest.fixture
def bridge():
    """A bare Linux bridge for the guest's NIC (no address: nothing else sees it)."""
    name = f"qxag{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], check=False)


@pytest.fixture
async def env(drv):
    store = LocalStore(NODE)
    await store.put("pools", "local", {"type": "dir", "path": drv.pools["local"], "shared": False})
    agents = AgentManager(store, drv, NODE)
    rec = Reconciler(store, drv, NODE, resync_interval=5.0, shutdown_timeout=30.0, agents=agents)
    await rec.start()
    await agents.start()
    yield store, agents
    await agents.stop()
    await rec.stop()


async def until(pred, timeout, what):
    return await async_wait_for(pred, timeout, what, interval=0.2)


def agent_of(store, vm):
    st = store.get("vm_status", vm)
    return (st.value.get("agent") or {}) if st else {}


def events(store, vm):
    return [r.value for r in store.scan("events") if r.value.get("id") == vm]


def record(**kw):
    return {
        "name": kw.pop("name", "vm"),
        "placement": NODE,
        "placement_epoch": 1,
        "desired": "running",
        **guest_spec(),
        **kw,
    }


async def _forget(store, drv, vm):
    """Delete the record first, so the reconciler does not start it again."""
    await store.commit([{"op": "delete", "table": "vms", "key": vm, "expect": None}])
    with contextlib.suppress(Exception):
        await until(lambda: vm not in [d.vm_id for d in drv.list_domains()], 60, "removed")
    with contextlib.suppress(Exception):
        drv.delete(vm, remove_disks=True)


async def _shutdown(store, vm):
    cur = store.get("vms", vm)
    await store.put("vms", vm, dict(cur.value, desired="stopped", stop_mode="graceful"))
    await until(lambda: store.get("vm_status", vm).value["state"] == "stopped", 90, "stopped")


async def test_agent_reports_and_serves_every_capability(bridge, env, drv):
    store, agents = env
    vm = new_id("ag")
    await store.put("volumes", f"{vm}-v0", {"pool": "local", "name": f"{vm}-d0", "vm": vm})
    spec = guest_spec()
    await store.put(
        "vms",
        vm,
        record(
            cmdline=f"{spec['cmdline']} qx.ip={GUEST_IP}/24 qx.datafs=vda",
            nics=[{"mac": "52:54:00:aa:bb:01", "bridge": bridge}],
            disks=[{"id": "d0", "pool": "local", "volume": f"{vm}-v0", "size_gib": 0.05}],
        ),
    )
    try:
        ag = await until(
            lambda: agent_of(store, vm).get("ips") and agent_of(store, vm),
            300,  # boot under TCG: 20 s idle, minutes on a busy machine
            "the agent's report with an IP",
        )
        assert ag["connected"] and GUEST_IP in ag["ips"]
        assert ag["os"]["name"] == "Quantix test guest (busybox)"
        assert ag["hostname"] == "quantix-guest" and ag["version"]
        assert ag["memory"]["total_mib"] > 0 and "exec" in ag["capabilities"]

        res = await agents.call(vm, "exec", {"argv": ["sh", "-c", "echo hi; exit 3"]}, 30)
        assert (res["exit_code"], res["stdout"]) == (3, b"hi\n")

        await agents.call(vm, "file_write", {"path": "/tmp/f", "data": b"\x00payload"}, 30)
        got = await agents.call(vm, "file_read", {"path": "/tmp/f"}, 30)
        assert got["data"] == b"\x00payload"

        await agents.call(vm, "set_password", {"user": "quantix", "password": "pw1"}, 30)
        shadow = (await agents.call(vm, "file_read", {"path": "/etc/shadow"}, 30))["data"]
        assert b"quantix:$6$" in shadow

        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyForTheTest test@quantix"
        await agents.call(vm, "add_ssh_keys", {"user": "root", "keys": [key]}, 30)
        ak = await agents.call(vm, "file_read", {"path": "/root/.ssh/authorized_keys"}, 30)
        assert ak["data"].decode().strip() == key

        # A writer in a loop on a real file system, frozen for the snapshot.
        loop = "(while :; do echo x >> /data/loop; sleep 0.1; done) </dev/null >/dev/null 2>&1 &"
        await agents.call(vm, "exec", {"argv": ["sh", "-c", loop]}, 30)

        async def size() -> int:
            return int((await agents.call(vm, "file_read", {"path": "/data/loop"}, 30))["size"])

        await until(lambda: True, 1, "a moment of writing")
        snap, how = await quiesced(agents, vm, lambda: drv.snapshot_create(vm, "q1"))
        assert how["frozen"] == ["/data"], how
        assert [h["hook"] for h in how["freeze_hooks"]] == ["10-mark"]
        assert [h["hook"] for h in how["thaw_hooks"]] == ["10-mark"]
        log = wait_serial(drv, vm, f"{HOOK_PREFIX} thaw")
        assert log.index(f"{HOOK_PREFIX} freeze") < log.index(f"{HOOK_PREFIX} thaw")
        assert "q1" in [s["name"] for s in drv.snapshot_list(vm)]
        del snap
        before = await size()
        for _ in range(100):  # the writer goes on after the thaw
            if await size() > before:
                break
            await asyncio.sleep(0.1)
        assert await size() > before

        # Paused and resumed: the reconciler steps the guest's clock.
        stepped = drv.read_serial_log(vm, 0, 1 << 20)["data"].count("clock stepped")
        cur = store.get("vms", vm)
        await store.put("vms", vm, dict(cur.value, desired="paused"))
        await until(lambda: store.get("vm_status", vm).value["state"] == "paused", 60, "paused")
        cur = store.get("vms", vm)
        await store.put("vms", vm, dict(cur.value, desired="running"))
        await until(
            lambda: drv.read_serial_log(vm, 0, 1 << 20)["data"].count("clock stepped") > stepped,
            60,
            "the clock stepped after the resume",
        )

        await _shutdown(store, vm)
        log = drv.read_serial_log(vm, 0, 1 << 20)["data"]
        assert "quantix-agent: poweroff requested by the host" in log
        assert POWEROFF_MARKER in log
        msgs = [e["message"] for e in events(store, vm)]
        assert any("through its guest agent" in m for m in msgs), msgs
        await until(lambda: not agent_of(store, vm).get("connected"), 30, "agent disconnected")
    finally:
        await _forget(store, drv, vm)


async def test_shutdown_falls_back_to_acpi_without_an_agent(env, drv):
    store, _ = env
    vm = new_id("na")
    spec = guest_spec()
    await store.put("vms", vm, record(cmdline=f"{spec['cmdline']} qx.agent=0"))
    try:
        await until(lambda: MARKER in drv.read_serial_log(vm, 0, 1 << 20)["data"], 300, "boot")
        await until(
            lambda: agent_of(store, vm).get("reason") == "no agent answers in the guest",
            60,
            "the manager noticing there is no agent",
        )
        assert not agent_of(store, vm)["connected"]
        await _shutdown(store, vm)
        msgs = [e["message"] for e in events(store, vm)]
        assert any("through the ACPI power button" in m for m in msgs), msgs
    finally:
        await _forget(store, drv, vm)
