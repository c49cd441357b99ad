"""VMs through the API: validation, uniqueness, versions, actions and tasks."""

from __future__ import annotations

import asyncio

import pytest

from raft.store import put
from tests.peer.api.conftest import bearer

VM = {"name": "web-1", "vcpus": 2, "memory_mib": 512}


@pytest.fixture
async def op(client, tokens):
    """An operator's headers, plus a pool, a network, an image and a 4-CPU host."""
    h = bearer(tokens["operator"])
    admin = bearer(tokens["admin"])
    assert (await client.post("/api/v1/pools", json={"name": "local"}, headers=admin)).status == 201
    r = await client.post("/api/v1/networks", json={"name": "lan", "bridge": "br0"}, headers=admin)
    assert r.status == 201
    r = await client.post(
        "/api/v1/images",
        json={"name": "debian", "kind": "disk", "pool": "local"},
        headers=h,
    )
    assert r.status == 201
    return h


async def add_node(store, nid="n1", cpus=4, memory_mib=8192):
    await store.commit(
        [
            put(
                "nodes",
                nid,
                {
                    "hostname": nid,
                    "state": "active",
                    "resources": {"cpus": cpus, "memory_mib": memory_mib},
                },
            )
        ]
    )


async def test_create_get_and_list_a_vm(client, op, store):
    image = (await (await client.get("/api/v1/images", headers=op)).json())["items"][0]["id"]
    spec = {**VM, "disks": [{"size_gib": 10, "image": image}], "nics": [{"network": "lan"}]}
    r = await client.post("/api/v1/vms", json=spec, headers=op)
    assert r.status == 201, await r.text()
    vm = await r.json()
    assert r.headers["ETag"] == f'"{vm["version"]}"'
    assert vm["disks"][0]["pool"] == "local" and vm["nics"][0]["mac"].startswith("52:54:00:")
    assert store.get("volumes", vm["disks"][0]["volume"]) is not None
    r = await client.get(f"/api/v1/vms/{vm['id']}?consistent=true", headers=op)
    assert r.status == 200 and int(r.headers["X-Quantix-Revision"]) >= vm["revision"]
    r = await client.get("/api/v1/vms?q=web", headers=op)
    assert [v["name"] for v in (await r.json())["items"]] == ["web-1"]
    assert store.scan("events")[-1].value["kind"] in ("vm.created",)


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        ({"memory_mib": 0}, "validation_failed", "/memory_mib"),
        ({"vcpus": 0}, "validation_failed", "/vcpus"),
        ({"colour": "red"}, "validation_failed", "/colour"),
        ({"name": "Not A Name"}, "validation_failed", "/name"),
        ({"disks": [{"size_gib": 1, "image": "nope"}]}, "unknown_reference", "/disks/0/image"),
        ({"nics": [{"network": "nope"}]}, "unknown_reference", "/nics/0/network"),
        ({"vcpus": 64}, "does_not_fit", "/vcpus"),
        ({"kernel": "nope"}, "unknown_reference", "/kernel"),
        ({"cmdline": "console=ttyS0"}, "unknown_reference", "/kernel"),
        ({"cmdline": "a\nb"}, "validation_failed", "/cmdline"),
    ],
)
async def test_bad_specs_are_refused_with_the_reason(client, op, store, change, code, path):
    await add_node(store)
    r = await client.post("/api/v1/vms", json={**VM, **change}, headers=op)
    assert r.status == 422, await r.text()
    body = await r.json()
    assert body["code"] == code
    assert body["details"]["errors"][0]["path"] == path
    assert store.count("vms") == 0


async def test_direct_kernel_boot_names_kernel_and_initrd_images(client, op, store):
    ids = {}
    for kind in ("kernel", "initrd"):
        r = await client.post(
            "/api/v1/images",
            json={"name": f"tg-{kind}", "kind": kind, "pool": "local"},
            headers=op,
        )
        assert r.status == 201, await r.text()
        ids[kind] = (await r.json())["id"]
    boot = {"kernel": ids["kernel"], "initrd": ids["initrd"], "cmdline": "console=ttyS0"}
    # The initrd image in the kernel's place is refused with the reason.
    r = await client.post("/api/v1/vms", json={**VM, **boot, "kernel": ids["initrd"]}, headers=op)
    assert r.status == 422 and "is not a kernel image" in (await r.json())["message"]
    r = await client.post("/api/v1/vms", json={**VM, **boot}, headers=op)
    assert r.status == 201, await r.text()
    vm = await r.json()
    assert (vm["kernel"], vm["initrd"], vm["cmdline"]) == (*ids.values(), "console=ttyS0")
    # Edits are judged with what the VM already has.
    r = await client.patch(f"/api/v1/vms/{vm['id']}", json={"cmdline": "quiet"}, headers=op)
    assert r.status == 200, await r.text()
    r = await client.patch(f"/api/v1/vms/{vm['id']}", json={"kernel": None}, headers=op)
    assert r.status == 422 and (await r.json())["details"]["errors"][0]["path"] == "/kernel"
    # An image a VM boots from cannot be deleted under it.
    r = await client.delete(f"/api/v1/images/{ids['kernel']}", headers=op)
    assert r.status == 409, await r.text()


async def test_names_are_unique_even_when_created_concurrently(client, op, store):
    rs = await asyncio.gather(*(client.post("/api/v1/vms", json=VM, headers=op) for _ in range(5)))
    assert sorted(r.status for r in rs) == [201, 409, 409, 409, 409]
    assert store.count("vms") == 1
    r = await client.post("/api/v1/vms", json=VM, headers=op)
    assert (await r.json())["code"] == "already_exists"


async def test_if_match_refuses_a_stale_edit(client, op):
    vm = await (await client.post("/api/v1/vms", json=VM, headers=op)).json()
    url = f"/api/v1/vms/{vm['id']}"
    etag = (await client.get(url, headers=op)).headers["ETag"]
    r = await client.patch(url, json={"memory_mib": 1024}, headers={**op, "If-Match": etag})
    assert r.status == 200 and (await r.json())["memory_mib"] == 1024
    r = await client.patch(url, json={"memory_mib": 2048}, headers={**op, "If-Match": etag})
    assert r.status == 412 and (await r.json())["code"] == "precondition_failed"
    r = await client.patch(url, json={"memory_mib": 0}, headers=op)
    assert r.status == 422


async def test_actions_set_desired_state_and_make_tasks(client, op, store):
    vm = await (await client.post("/api/v1/vms", json=VM, headers=op)).json()
    r = await client.post(f"/api/v1/vms/{vm['id']}/start", headers=op)
    assert r.status == 202
    task = await r.json()
    assert task["kind"] == "start" and task["state"] == "pending"
    assert store.get("vms", vm["id"]).value["desired"] == "running"
    r = await client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=op)
    assert (await r.json())["state"] == "cancelled"
    r = await client.post(f"/api/v1/vms/{vm['id']}/stop", headers=op)
    assert store.get("vms", vm["id"]).value["desired"] == "stopped"
    r = await client.post(f"/api/v1/vms/{vm['id']}/reboot", headers=op)
    assert r.status == 409 and (await r.json())["code"] == "vm_not_running"
    r = await client.post(f"/api/v1/vms/{vm['id']}/migrate", json={"node": "ghost"}, headers=op)
    assert r.status == 404
    r = await client.get("/api/v1/tasks?limit=1", headers=op)
    page = await r.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    r = await client.get(f"/api/v1/tasks?limit=10&cursor={page['next_cursor']}", headers=op)
    assert len((await r.json())["items"]) == 1


async def test_running_vm_is_not_deleted_without_force(client, op, store):
    vm = await (await client.post("/api/v1/vms", json=VM, headers=op)).json()
    await store.commit([put("vm_status", vm["id"], {"node": "n1", "state": "running"})])
    r = await client.delete(f"/api/v1/vms/{vm['id']}", headers=op)
    assert r.status == 409 and (await r.json())["code"] == "vm_running"
    r = await client.get("/api/v1/vms?state=running", headers=op)
    assert len((await r.json())["items"]) == 1
    r = await client.delete(f"/api/v1/vms/{vm['id']}?force=true", headers=op)
    assert r.status == 204
    # The name is free again.
    assert (await client.post("/api/v1/vms", json=VM, headers=op)).status == 201


async def test_in_use_resources_cannot_be_deleted(client, op, tokens):
    await client.post("/api/v1/vms", json={**VM, "nics": [{"network": "lan"}]}, headers=op)
    r = await client.delete("/api/v1/networks/lan", headers=bearer(tokens["admin"]))
    assert r.status == 409 and (await r.json())["code"] == "in_use"
    r = await client.delete("/api/v1/pools/local", headers=bearer(tokens["admin"]))
    assert r.status == 409


async def test_node_maintenance_and_labels(client, op, store):
    await add_node(store, "n7")
    r = await client.patch(
        "/api/v1/nodes/n7", json={"maintenance": True, "labels": {"rack": "a"}}, headers=op
    )
    assert r.status == 200
    rec = store.get("nodes", "n7").value
    assert rec["state"] == "maintenance" and rec["labels"] == {"rack": "a"}
    assert rec["resources"]["cpus"] == 4  # the node's own fields are kept
    r = await client.get("/api/v1/nodes?state=maintenance", headers=op)
    assert [n["id"] for n in (await r.json())["items"]] == ["n7"]


async def test_cluster_view_and_missing_hooks(client, tokens, store):
    await add_node(store, "n1")
    r = await client.get("/api/v1/cluster", headers=bearer(tokens["viewer"]))
    body = await r.json()
    assert body["leader"] == "n1" and body["health"]["has_quorum"]
    await store.commit([put("discovered", "h9", {"hostname": "h9", "address": "10.0.0.9"})])
    r = await client.post(
        "/api/v1/cluster/discovered/h9/adopt",
        json={"pairing_code": "AAAA-BBBB-CCCC-DDDD"},
        headers=bearer(tokens["admin"]),
    )
    assert r.status == 503 and (await r.json())["code"] == "not_available"


async def test_adopt_calls_the_daemons_hook(client, tokens, store, ctx):
    calls = []

    async def adopt(node_id, record, code):
        calls.append((node_id, record["address"], code))

    ctx.services["adopt"] = adopt
    await store.commit([put("discovered", "h9", {"hostname": "h9", "address": "10.0.0.9"})])
    r = await client.post(
        "/api/v1/cluster/discovered/h9/adopt",
        json={"pairing_code": "AAAA-BBBB-CCCC-DDDD"},
        headers=bearer(tokens["admin"]),
    )
    assert r.status == 202 and calls == [("h9", "10.0.0.9", "AAAA-BBBB-CCCC-DDDD")]
