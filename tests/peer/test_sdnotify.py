"""The peer's systemd notifications (Quantix-OS runs it as a Type=notify unit)."""

import os
import socket

from peer import sdnotify


def test_notify_sends_a_datagram_and_is_silent_without_systemd(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(path)
        assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": path})
        assert s.recv(64) == b"READY=1"
    assert not sdnotify.notify("READY=1", {})


def test_the_watchdog_is_pinged_at_half_its_interval_for_this_process_only():
    me = str(os.getpid())
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": me}) == 15.0
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval({}) is None
