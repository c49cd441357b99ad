"""When an agent's report is worth a commit (an idle guest costs none)."""

from __future__ import annotations

from peer.agent.status import USAGE_REFRESH_S, disconnected, from_session, worth_committing

HELLO = {"agent_version": "1.0.0", "protocol": 1, "capabilities": ["ping", "exec"]}


def info(used: int = 100, uptime: float = 50.0, now: float = 1000.0, ips=("10.0.0.5",)):
    return {
        "hostname": "g",
        "os": {"id": "debian", "name": "Debian", "version": "12", "kernel": "6.1"},
        "uptime_s": uptime,
        "time": now,
        "ips": list(ips),
        "memory": {"total_mib": 1000, "used_mib": used, "available_mib": 1000 - used},
        "filesystems": [{"mount": "/", "fs": "ext4", "total_mib": 10000, "used_mib": 2000}],
    }


def test_record_shape_and_disconnected():
    rec = from_session("/s", HELLO, info(), None)
    assert rec["connected"] and rec["ips"] == ["10.0.0.5"] and rec["version"] == "1.0.0"
    assert rec["booted_at"] == 950.0 and rec["memory"]["used_mib"] == 100
    assert from_session("/s", None, None, "no agent") == disconnected("/s", "no agent")


def test_idle_guest_is_not_recommitted():
    a = from_session("/s", HELLO, info(used=100, uptime=50, now=1000), None)
    b = from_session("/s", HELLO, info(used=110, uptime=80, now=1030), None)
    assert not worth_committing(a, b, stale_s=30)
    assert worth_committing(a, b, stale_s=USAGE_REFRESH_S)


def test_identity_and_big_usage_changes_commit_at_once():
    a = from_session("/s", HELLO, info(), None)
    assert worth_committing(a, from_session("/s", HELLO, info(ips=("10.0.0.6",)), None), 1)
    assert worth_committing(a, from_session("/s", HELLO, info(used=400), None), 1)
    assert worth_committing(a, from_session("/s", None, None, "gone"), 1)
    rebooted = from_session("/s", HELLO, info(uptime=5, now=2000), None)
    assert worth_committing(a, rebooted, 1)
