"""The epoch rule and the migration hand-over, as a reconciler sees them."""

from peer.ha.rules import CopyVerdict, fence_victims, local_copy_verdict, may_start


def rec(placement, epoch, desired="running", migration=None):
    return {
        "placement": placement,
        "placement_epoch": epoch,
        "desired": desired,
        "migration": migration,
    }


LIVE = {"kind": "live", "source": "s", "target": "t", "source_epoch": 4}
COLD = {**LIVE, "kind": "cold"}


def test_copy_verdicts():
    assert local_copy_verdict(None, "s", 3) is CopyVerdict.DESTROY
    assert local_copy_verdict(rec("s", 3), "s", 3) is CopyVerdict.KEEP
    assert local_copy_verdict(rec("s", 5), "s", 3) is CopyVerdict.RESTART
    assert local_copy_verdict({**rec("s", 5), "adopt_epoch": 3}, "s", 3) is CopyVerdict.ADOPT
    assert local_copy_verdict({**rec("s", 5), "adopt_epoch": 3}, "s", 2) is CopyVerdict.RESTART
    assert local_copy_verdict(rec("t", 5), "s", 3) is CopyVerdict.DESTROY  # HA moved it
    assert local_copy_verdict(rec("t", 5, migration=LIVE), "s", 4) is CopyVerdict.HAND_OVER
    assert local_copy_verdict(rec("t", 5, migration=COLD), "s", 4) is CopyVerdict.DESTROY
    assert local_copy_verdict(rec("t", 5, migration=LIVE), "s", 2) is CopyVerdict.DESTROY


def test_start_after_ha_restart_at_once_but_never_while_fenced():
    assert may_start(rec("t", 5), None, "t", fenced=False) == (True, "")
    assert may_start(rec("t", 5), None, "t", fenced=True) == (False, "this host is fenced")
    assert not may_start(rec("t", 5, desired="stopped"), None, "t", False)[0]
    assert not may_start(rec("s", 5), None, "t", False)[0]


def test_migration_target_waits_for_the_source():
    running_at_source = {"node": "s", "epoch": 4, "state": "running"}
    stopped_at_source = {"node": "s", "epoch": 4, "state": "stopped"}
    arrived = {"node": "t", "epoch": 5, "state": "running"}
    older_report = {"node": "x", "epoch": 3, "state": "running"}
    assert may_start(rec("t", 5, migration=COLD), running_at_source, "t", False) == (
        False,
        "waiting for s to stop its copy",
    )
    assert may_start(rec("t", 5, migration=COLD), stopped_at_source, "t", False)[0]
    assert may_start(rec("t", 5, migration=LIVE), running_at_source, "t", False) == (
        False,
        "waiting for the live migration from s",
    )
    assert may_start(rec("t", 5, migration=LIVE), stopped_at_source, "t", False)[0]
    assert may_start(rec("t", 5, migration=LIVE), arrived, "t", False)[0]
    assert not may_start(rec("t", 5, migration=COLD), older_report, "t", False)[0]
    assert not may_start(rec("t", 5, migration=COLD), None, "t", False)[0]


def test_a_fence_stops_every_guest_the_leader_may_start_elsewhere():
    vms = {
        "ha": {**rec("me", 1), "ha": {"enabled": True}},
        "plain": rec("me", 1),
        "arriving": rec("me", 2, migration={**LIVE, "source": "x", "target": "me"}),
        "leaving": rec("y", 2, migration={**LIVE, "source": "me", "target": "y"}),
        "elsewhere": {**rec("y", 1), "ha": {"enabled": True}},
    }
    # Every guest here: the flag this host saw may be older than the leader's.
    assert fence_victims(vms, "me") == {"ha", "plain", "arriving", "leaving"}
