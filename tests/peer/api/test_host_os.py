"""``/host/os`` on a host that is not Quantix-OS (the lab, a laptop): it says so,
and an update bundle is refused rather than silently kept."""

from peer.api.app import build_app
from peer.osimage.routes import routes as os_routes

from .conftest import bearer


async def test_a_host_that_is_not_quantix_os_refuses_updates(ctx, tokens, aiohttp_client):
    client = await aiohttp_client(build_app(ctx, extra_routes=[os_routes]))
    r = await client.get("/api/v1/host/os", headers=bearer(tokens["viewer"]))
    assert r.status == 200
    assert await r.json() == {"os": False}
    r = await client.post(
        "/api/v1/host/os/update",
        data=b"not a bundle",
        headers={**bearer(tokens["admin"]), "Content-Type": "application/octet-stream"},
    )
    assert r.status == 409
    assert (await r.json())["code"] == "not_quantix_os"
    assert not (ctx.config.data_dir / "os").exists()
    r = await client.post(
        "/api/v1/host/os/update",
        data=b"x",
        headers={**bearer(tokens["operator"]), "Content-Type": "application/octet-stream"},
    )
    assert r.status == 403


async def test_a_host_that_does_not_exist_is_404_not_forwarded(ctx, tokens, aiohttp_client):
    client = await aiohttp_client(build_app(ctx, extra_routes=[os_routes]))
    r = await client.get("/api/v1/host/os?node=nosuchhost", headers=bearer(tokens["viewer"]))
    assert r.status == 404
    assert (await r.json())["code"] == "node_not_found"
