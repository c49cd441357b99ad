"""Admission control: warn when the cluster cannot survive losing its largest host."""

from peer.ha.admission import check_admission
from peer.scheduler.policy import SchedulerPolicy
from tests.peer.scheduler.build import cluster, host, vm


def test_ok_when_largest_hosts_ha_vms_fit_elsewhere():
    state = cluster(
        [host("big", mem=32768), host("h2", mem=8192), host("h3", mem=8192)],
        [vm("a", mem=4096, placement="big", ha=True), vm("b", mem=4096, placement="big", ha=True)],
    )
    adm = check_admission(state, SchedulerPolicy(), ["big", "h2", "h3"])
    assert adm.ok and adm.largest_host == "big" and adm.stranded == 0


def test_warns_with_a_count_and_the_first_reason():
    state = cluster(
        [host("big", mem=32768), host("h2", mem=8192)],
        [
            vm("a", mem=6144, placement="big", ha=True, priority=5),
            vm("b", mem=6144, placement="big", ha=True),
            vm("plain", mem=16384, placement="big"),  # not HA: not counted
        ],
    )
    adm = check_admission(state, SchedulerPolicy(), ["big", "h2"])
    assert not adm.ok and adm.stranded == 1
    assert adm.message.startswith(
        "if the largest host big fails, 1 of its 2 HA VMs cannot be restarted elsewhere"
        " (first: cannot place b: no host has 6 GiB free memory: largest free is 2 GiB on h2"
    )


def test_single_host_cannot_protect_anything():
    state = cluster([host("h1")], [vm("a", placement="h1", ha=True)])
    assert not check_admission(state, SchedulerPolicy(), ["h1"]).ok
    assert check_admission(cluster([host("h1")], []), SchedulerPolicy(), ["h1"]).ok
