"""The fencing rule with explicit times."""

import pytest

from peer.ha.fencing import (
    LeaseObserver,
    dead_nodes,
    default_margin,
    lease_expired_beyond_fence,
    should_self_fence,
)
from peer.scheduler.model import Lease

FENCE, MARGIN = 6.0, 2.0


def test_peer_fences_itself_once_fence_after_passed_since_last_good_send():
    assert not should_self_fence(now=105.9, last_renewal_sent=100.0, fence_after=FENCE)
    assert should_self_fence(now=106.0, last_renewal_sent=100.0, fence_after=FENCE)


@pytest.mark.parametrize(
    ("committed_age", "observed", "dead"),
    [
        (7.9, 100.0, False),  # expired by less than fence_after + margin: wait
        (8.0, 100.0, False),  # exactly at the bound: still wait
        (8.1, 8.1, True),  # beyond it on both clocks: restart
        (100.0, 7.0, False),  # leader's wall clock far ahead, own watch too short: wait
        (3.0, 100.0, False),  # watched long, but committed times say it renewed: wait
    ],
)
def test_leader_needs_both_committed_and_observed_silence(committed_age, observed, dead):
    now = 1000.0
    got = lease_expired_beyond_fence(now - committed_age, now, observed, FENCE, MARGIN)
    assert got is dead


def test_never_renewed_lease_counts_as_expired_once_watched_long_enough():
    assert not lease_expired_beyond_fence(None, 1000.0, 5.0, FENCE, MARGIN)
    assert lease_expired_beyond_fence(None, 1000.0, 9.0, FENCE, MARGIN)


def test_margin_covers_at_least_two_heartbeats():
    assert default_margin(1.0) == 2.0 and default_margin(3.0) == 6.0


def test_observer_restarts_its_watch_when_the_lease_changes():
    obs = LeaseObserver()
    obs.observe(["h1"], {"h1": Lease("h1", 10.0, False, 3)}, now=50.0)
    obs.observe(["h1"], {"h1": Lease("h1", 10.0, False, 3)}, now=58.0)
    assert obs.observed_for("h1", 59.0) == 9.0
    obs.observe(["h1"], {"h1": Lease("h1", 12.0, False, 4)}, now=60.0)
    assert obs.observed_for("h1", 61.0) == 1.0
    assert obs.observed_for("unknown", 61.0) == 0.0


def test_dead_nodes_skips_the_leader_and_names_the_lease_version():
    leases = {
        "me": Lease("me", 0.0, False, 1),
        "h2": Lease("h2", 990.0, False, 7),
        "h3": Lease("h3", 999.0, False, 2),
    }
    obs = LeaseObserver()
    obs.observe(["me", "h2", "h3", "h4"], leases, now=0.0)
    got = dead_nodes(
        ["me", "h2", "h3", "h4"],
        leases,
        obs,
        committed_now=1000.0,
        mono_now=20.0,
        fence_after=FENCE,
        margin=MARGIN,
        me="me",
    )
    assert {n: d.lease_version for n, d in got.items()} == {"h2": 7, "h4": None}
