"""Hole 10: schemathesis, all its phases, several seeds, positive and negative
data: no 5xx, responses conform, and the schema is as strict as the validation
(data the schema calls invalid is refused; data it calls valid is not refused
as malformed).

The join and adoption routes are served too (their handlers answer 503
``not_member`` here, after the guard has checked the body).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from peer.api.app import build_app
from peer.auth.roles import Role
from peer.join import JoinResponder
from peer.join import routes as join_routes
from peer.pairing import routes as pairing_routes
from raft.store import LocalStore
from tests.peer.api.conftest import add_token, add_user, make_ctx
from tests.peer.api.serve import ServedApp

SEEDS = [1, 7, 2026]
PHASES = "examples,coverage,fuzzing,stateful"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


def _st(doc: Path, url: str, token: str, seed: int, report: Path) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    st = Path(sys.executable).parent / "st"
    return subprocess.run(
        [
            str(st), "run", str(doc), "--url", url,
            "--header", f"Authorization: Bearer {token}",
            "--phases", PHASES, "--mode", "all", "--seed", str(seed),
            "--max-examples", "12", "--checks", CHECKS, "--workers", "1",
            "--generation-database", "none", "--no-color",
            "--exclude-operation-id", "stream_events",
            "--request-timeout", "10",
            "--report", "ndjson", "--report-dir", str(report),
        ],
        capture_output=True, text=True, timeout=600, check=False, cwd=report.parent,
    )  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_schemathesis_all_phases(tmp_path: Path, seed: int) -> None:
    store = LocalStore("n1")
    ctx = make_ctx(store, tmp_path)
    ctx.services["join"] = JoinResponder("test", "cid-1", "n1", "s" * 16, "0" * 64)
    with ServedApp(lambda: build_app(ctx, [join_routes, pairing_routes])) as served:

        async def seed_users() -> str:
            # Not "admin": the fuzzer deletes and renames users it can guess.
            name = f"fuzz-{secrets.token_hex(4)}"
            await add_user(store, name, Role.ADMIN)
            return await add_token(store, name, Role.ADMIN)

        token = served.run(seed_users)
        assert isinstance(token, str)
        doc = tmp_path / "openapi.json"
        raw = requests.get(
            f"{served.url}/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}
        ).json()
        doc.write_text(json.dumps(raw))
        done = _st(doc, served.url, token, seed, tmp_path / "report")
        assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-3000:]
        assert requests.get(f"{served.url}/api/v1/health", timeout=5).status_code == 200
