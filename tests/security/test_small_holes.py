"""Hole 9, the smaller ones: URL imports that reach inside, tokens that outlive
a password change, secrets shown to viewers, no Content-Security-Policy on the
UI, a node.yaml others can read, the first admin password in a log."""

from __future__ import annotations

import http.server
import io
import threading

import pytest

from hypervisor import errors as E
from hypervisor.storage import open_source
from peer.api.app import build_app
from peer.config import ConfigError, load_config
from peer.daemon import announce_first_admin
from peer.url_policy import resolving_checker
from peer.webui_static import add_webui
from raft.store import put
from tests.peer.api.conftest import bearer, client, ctx, store, tokens  # noqa: F401


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8443/api/v1/health",
        "http://localhost/x.iso",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/x",
        "http://10.1.2.3:8443/api/v1/cluster",  # a member's own address
    ],
)
async def test_url_imports_cannot_reach_the_host_or_the_cluster(client, tokens, store, url):  # noqa: F811
    await store.commit([put("nodes", "n2", {"address": "10.1.2.3", "api_port": 8443})])
    admin = bearer(tokens["admin"])
    assert (await client.post("/api/v1/pools", json={"name": "p"}, headers=admin)).status == 201
    body = {"name": "x", "kind": "iso", "pool": "p", "source_url": url}
    r = await client.post("/api/v1/images", json=body, headers=bearer(tokens["operator"]))
    assert r.status == 422 and (await r.json())["code"] == "url_refused", await r.text()


class _Redirect(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_to_the_host_is_refused():
    srv = http.server.HTTPServer(("127.0.0.2", 0), _Redirect)
    _Redirect.target = "http://127.0.0.1:8443/api/v1/health"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        check = resolving_checker(["127.0.0.2/32"], [])  # only the first server is allowed
        with pytest.raises(E.InvalidSpec, match="refused redirect"):
            open_source(f"http://127.0.0.2:{srv.server_port}/x.iso", check)
    finally:
        srv.shutdown()


async def test_a_password_change_revokes_the_users_tokens(client, tokens):  # noqa: F811
    h = bearer(tokens["operator"])
    assert (await client.get("/api/v1/vms", headers=h)).status == 200
    r = await client.post(
        "/api/v1/users/operator/password",
        json={"new_password": "a-new-long-password"},
        headers=bearer(tokens["admin"]),
    )
    assert r.status == 204, await r.text()
    assert (await client.get("/api/v1/vms", headers=h)).status == 401


async def test_viewers_do_not_see_cloud_init_secrets(client, tokens, store):  # noqa: F811
    ci = {
        "hostname": "web",
        "user_data": "#cloud-config\npassword: hunter2",
        "password_hash": "$6$x",
    }
    await store.commit(
        [put("vms", "v1", {"name": "web", "vcpus": 1, "memory_mib": 64, "cloud_init": ci})]
    )
    seen = await (await client.get("/api/v1/vms/v1", headers=bearer(tokens["viewer"]))).json()
    listed = await (await client.get("/api/v1/vms", headers=bearer(tokens["viewer"]))).json()
    for view in (seen, listed["items"][0]):
        assert "hunter2" not in str(view) and "$6$x" not in str(view)
        assert view["cloud_init"]["hostname"] == "web"
    op = await (await client.get("/api/v1/vms/v1", headers=bearer(tokens["operator"]))).json()
    assert op["cloud_init"]["user_data"] == ci["user_data"]


async def test_the_ui_has_a_strict_content_security_policy(ctx, aiohttp_client, tmp_path):  # noqa: F811
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>Quantix</title>")
    app = build_app(ctx)
    add_webui(app, dist)
    c = await aiohttp_client(app)
    r = await c.get("/vms/abc")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_a_node_yaml_others_can_read_is_refused(tmp_path):
    conf = tmp_path / "node.yaml"
    conf.write_text('cluster:\n  name: "c"\n  secret: "a-secret-of-some-length"\n')
    conf.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(conf)
    conf.chmod(0o600)
    assert load_config(conf).cluster_name == "c"


class _Log(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_the_first_admin_password_is_not_logged(tmp_path, caplog):
    out = _Log()
    path = tmp_path / "initial-admin-password"
    announce_first_admin("s3cret-first-pw", path, "https://h:8443/", "c", out)
    assert "s3cret-first-pw" not in out.getvalue() and "s3cret-first-pw" not in caplog.text
    assert path.read_text().strip() == "s3cret-first-pw" and path.stat().st_mode & 0o777 == 0o600
    assert str(path) in caplog.text
