"""Live migration's pure parts: the incoming config, the URIs, QEMU's progress,
and the send loop's failure, cancel and timeout handling (over a scripted QMP).
The real thing, between two peers' QEMUs, is in tests/peer/test_migration_lab.py."""

from __future__ import annotations

from typing import Any

import pytest

from hypervisor.errors import InvalidSpec, OperationFailed
from hypervisor.migration import (
    QEMU_NS,
    MigrationFailed,
    bound_uri,
    incoming_xml,
    listen_uri,
    progress_of,
    send,
)


def test_incoming_is_added_to_the_definition() -> None:
    xml = incoming_xml("<domain type='qemu'><name>qx-a</name><uuid>u</uuid></domain>")
    assert f'xmlns:qemu="{QEMU_NS}"' in xml
    assert '<qemu:arg value="-incoming" /><qemu:arg value="defer" />' in xml
    assert "<name>qx-a</name>" in xml


def test_the_destination_listens_where_the_kernel_says() -> None:
    assert listen_uri("10.0.0.2") == "tcp:10.0.0.2:0"
    with pytest.raises(InvalidSpec):
        listen_uri("fe80::1")
    info = {"status": "setup", "socket-address": [{"type": "inet", "host": "0", "port": "4711"}]}
    assert bound_uri(info, "10.0.0.2") == "tcp:10.0.0.2:4711"
    with pytest.raises(OperationFailed):
        bound_uri({}, "10.0.0.2")


def test_progress_is_the_clean_share_of_ram() -> None:
    p = progress_of({"status": "active", "ram": {"total": 100, "remaining": 25, "transferred": 80}})
    assert p.fraction == 0.75
    assert progress_of({"status": "completed"}).fraction == 1.0
    assert progress_of({}).status == "none"


class ScriptedQemu:
    """A QMP that answers query-migrate from a list and records the rest."""

    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.calls: list[str] = []

    def __call__(self, command: str, **args: Any) -> Any:
        self.calls.append(command)
        if command == "query-migrate":
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {}


def run(q: ScriptedQemu, **kw: Any) -> dict[str, Any]:
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    return send(q, "tcp:10.0.0.2:4711", clock=lambda: t[0], sleep=sleep, **kw)


def test_send_reports_progress_until_completed() -> None:
    seen: list[float] = []
    q = ScriptedQemu(
        [
            {"status": "setup"},
            {"status": "active", "ram": {"total": 100, "remaining": 50}},
            {"status": "completed", "downtime": 4},
        ]
    )
    assert run(q, on_progress=lambda p: seen.append(p.fraction))["downtime"] == 4
    assert seen == [0.0, 0.5, 1.0]
    assert q.calls[:3] == ["migrate-set-parameters", "migrate-set-parameters", "migrate"]


def test_a_failed_migration_says_why() -> None:
    q = ScriptedQemu([{"status": "failed", "error-desc": "Connection reset by peer"}])
    with pytest.raises(MigrationFailed, match="Connection reset by peer"):
        run(q)


def test_cancel_and_timeout_cancel_qemus_migration() -> None:
    q = ScriptedQemu([{"status": "active"}])
    with pytest.raises(MigrationFailed, match="cancelled"):
        run(q, cancelled=lambda: True)
    assert q.calls[-1] == "migrate_cancel"
    q = ScriptedQemu([{"status": "active"}])
    with pytest.raises(MigrationFailed, match="not done after 5 s"):
        run(q, timeout=5)
    assert q.calls[-1] == "migrate_cancel"
