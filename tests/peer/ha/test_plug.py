"""Pulling the plug on a fence: the right QEMU processes, all at once."""

import secrets

from peer.ha.plug import guest_pids, pull_the_plug
from tests.peer.ha.fakes import fake_guest


def qemu_cmdline(vm: str) -> bytes:
    return b"\0".join(
        [b"qemu-system-x86_64", b"-name", f"guest=qx-{vm},debug-threads=on".encode(), b"-S"]
    )


def test_only_the_named_vms_in_this_namespace():
    procs = [
        (10, qemu_cmdline("a"), "net:[1]"),
        (11, qemu_cmdline("b"), "net:[1]"),
        (12, qemu_cmdline("a"), "net:[2]"),  # another lab host's copy
        (13, b"sleep\x0030", "net:[1]"),
    ]
    assert guest_pids(procs, {"a"}, "net:[1]") == {10: "a"}
    assert guest_pids(procs, {"a", "b"}, "net:[1]") == {10: "a", 11: "b"}


def test_a_real_process_is_killed():
    vm = "plugtest" + secrets.token_hex(4)  # unique: never someone else's guest
    p = fake_guest(vm)
    try:
        killed = pull_the_plug({vm})
        assert killed == {p.pid: vm}
        assert p.wait(10) == -9
    finally:
        p.kill()
        p.wait()
