"""The quantix CLI against a real served API (LocalStore behind it)."""

from __future__ import annotations

import io
import json
import os
import stat
import sys

import pytest

from peer.api.app import build_app
from peer.auth.roles import Role
from peer.cli.main import main
from raft.store import LocalStore
from tests.peer.api.conftest import add_token, add_user, make_ctx
from tests.peer.api.serve import ServedApp

PASSWORD = "pw-" + "x" * 10


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTIX_CONFIG", str(tmp_path / "cfg" / "config.yaml"))
    monkeypatch.delenv("QUANTIX_URL", raising=False)
    monkeypatch.delenv("QUANTIX_TOKEN", raising=False)
    store = LocalStore("n1")
    with ServedApp(lambda: build_app(make_ctx(store, tmp_path))) as s:

        async def seed() -> str:
            await add_user(store, "admin", Role.ADMIN, PASSWORD)
            return await add_token(store, "admin", Role.ADMIN)

        s.token = s.run(seed)  # type: ignore[attr-defined]
        s.store = store  # type: ignore[attr-defined]
        yield s


def run(capsys, *argv, stdin: str | None = None) -> tuple[int, str, str]:
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def test_login_saves_a_private_context_and_commands_use_it(served, capsys, tmp_path):
    code, out, err = run(
        capsys,
        "login",
        served.url,
        "--user",
        "admin",
        "--password-stdin",
        "--name",
        "lab",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    path = tmp_path / "cfg" / "config.yaml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "qx_" in path.read_text() and PASSWORD not in path.read_text()
    code, out, _ = run(capsys, "whoami", "-o", "json")
    assert code == 0 and json.loads(out)["via"] == "token"
    code, out, _ = run(capsys, "context", "list")
    assert "lab" in out and "*" in out
    # Logging out revokes the token on the cluster.
    assert run(capsys, "logout")[0] == 0
    assert all(
        t.value["revoked"]
        for t in served.store.scan("tokens")
        if t.value["name"].startswith("cli@")
    )


def test_wrong_password_is_a_message_not_a_traceback(served, capsys):
    code, _out, err = run(
        capsys, "login", served.url, "--user", "admin", "--password-stdin", stdin="nope\n"
    )
    assert code == 1
    assert err.startswith("quantix: wrong user name or password (invalid_credentials)")
    assert "Traceback" not in err


def test_vm_lifecycle_tables_and_json(served, capsys):
    g = ["--url", served.url, "--token", served.token]
    assert run(capsys, *g, "pool", "create", "local")[0] == 0
    code, out, err = run(
        capsys, *g, "vm", "create", "web-1", "--vcpus", "2", "--memory", "1G", "--disk", "10G"
    )
    assert code == 0, err
    code, out, _ = run(capsys, *g, "vm", "list")
    assert out.splitlines()[0].split()[:3] == ["ID", "NAME", "VCPUS"] and "web-1" in out
    code, out, _ = run(capsys, *g, "vm", "list", "-o", "json")
    assert json.loads(out)[0]["memory_mib"] == 1024
    code, out, _ = run(capsys, *g, "vm", "start", "web-1")
    assert code == 0 and "task" in out
    assert served.store.scan("vms")[0].value["desired"] == "running"
    code, out, err = run(capsys, *g, "vm", "create", "web-1")
    assert code == 1 and "already exists" in err
    code, out, err = run(capsys, *g, "vm", "create", "big", "--memory", "0")
    assert code == 1 and "memory_mib" in err
    code, out, err = run(capsys, *g, "vm", "show", "ghost")
    assert code == 1 and "no vm named" in err
    code, out, _ = run(capsys, *g, "event", "list")
    assert "vm.created" in out and "vm.start" in out
    code, out, _ = run(
        capsys, *g, "event", "watch", "--from-revision", "0", "--count", "2", "-o", "json"
    )
    assert code == 0 and len(out.splitlines()) == 2
    assert run(capsys, *g, "vm", "delete", "web-1")[0] == 0


def test_task_wait_reports_failure_with_non_zero_exit(served, capsys):
    g = ["--url", served.url, "--token", served.token]
    run(capsys, *g, "vm", "create", "a")
    code, out, _ = run(capsys, *g, "vm", "start", "a", "-o", "json")
    task = json.loads(out)

    async def fail() -> None:
        from raft.store import put

        rec = served.store.get("tasks", task["id"])
        await served.store.commit(
            [put("tasks", task["id"], dict(rec.value, state="failed", error="no host fits"))]
        )

    served.run(fail)
    code, out, err = run(capsys, *g, "task", "wait", task["id"])
    assert code == 1 and "no host fits" in err


def test_unreachable_peer_and_missing_login(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTIX_CONFIG", str(tmp_path / "none.yaml"))
    code, _, err = run(capsys, "vm", "list")
    assert code == 2 and "quantix login" in err
    code, _, err = run(capsys, "--url", "http://127.0.0.1:9", "--token", "qx_a_b", "vm", "list")
    assert code == 3 and "cannot reach" in err


def test_external_subcommands_are_dispatched_lazily(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "console.main", None)  # simulate "not installed"
    code, _, err = run(capsys, "console")
    assert code == 1 and "not available" in err
