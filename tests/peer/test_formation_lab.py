"""Plug in N hosts at once: they form exactly one cluster, every time.

Hosts are started in a random order with random pauses between them (servers
in a rack powered on by hand), many times in a row in one test. A run in which
two instances of the name formed and one dissolved into the other (the merge
rule, docs/discovery.md) still passes: what users rely on is that every host
ends in one cluster with one leader. Each run's figures are printed; a failed
run's peer logs are kept under the test's tmp_path.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.faults.net import Partition
from chaos.lab import Lab
from chaos.lab.formation import health, start_scrambled, verdict
from testkit.wait import wait_for
from tests.labs import host_api, short_lab

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group("lab")]

MAX_DELAY = 0.5  # s between two starts
MOVE_LINE = "leaving this cluster instance to join another"


@dataclass
class Run:
    ok: bool
    seconds: float  # from the last start until formed (or until giving up)
    moves: int  # hosts that left a young instance for the winner
    why: str


def form_once(n: int, seed: int, timeout: float, keep: Path) -> Run:
    rng = random.Random(seed)
    with short_lab("f") as lab:
        lab.up(n, start=False)
        start_scrambled(lab, rng, MAX_DELAY)
        t0 = time.monotonic()
        why = "never polled"
        while time.monotonic() - t0 < timeout:
            why = verdict(health(lab), n)
            if not why:
                break
            time.sleep(0.2)  # between two polls of every host's health
        seconds = round(time.monotonic() - t0, 1)
        moves = sum(h.log.read_text().count(MOVE_LINE) for h in lab.hosts() if h.log.exists())
        if why:
            for h in lab.hosts():
                dest = keep / f"seed{seed}" / h.name
                dest.mkdir(parents=True, exist_ok=True)
                if h.log.exists():
                    shutil.copy(h.log, dest / "peer.log")
        return Run(not why, seconds, moves, why)


def loop(n: int, runs: int, timeout: float, keep: Path) -> None:
    base = random.randrange(1 << 30)
    results = []
    for i in range(runs):
        r = form_once(n, base + i, timeout, keep)
        results.append(r)
        print(f"{n} hosts, run {i + 1}/{runs} (seed {base + i}): {r}")
    passed = sum(r.ok for r in results)
    print(f"{n} hosts: {passed}/{runs} runs formed one cluster")
    assert passed == runs, f"{runs - passed} of {runs} runs failed (logs: {keep}): {results}"


def kept(n: int) -> Path:
    """Where a failed run's logs go: outside pytest's rotating tmp dirs, which
    other test sessions on this machine clean up."""
    return Path("/var/tmp") / f"qx-formation-{n}-{time.strftime('%Y%m%d-%H%M%S')}"


def test_16_hosts_started_together_form_one_cluster_3_times() -> None:
    loop(16, 3, 90.0, kept(16))


@pytest.mark.slow
def test_16_hosts_started_together_form_one_cluster_10_times() -> None:
    loop(16, 10, 90.0, kept(16))


@pytest.mark.slow
def test_32_hosts_started_together_form_one_cluster_5_times() -> None:
    loop(32, 5, 120.0, kept(32))


def cluster_ids(lab: Lab) -> dict[str, str]:
    return {
        h.name: str((v or {}).get("cluster_id") or "")
        for h, v in zip(lab.hosts(), health(lab), strict=True)
    }


def together(ids: dict[str, str], *hosts: str) -> bool:
    return ids[hosts[0]] != "" and all(ids[h] == ids[hosts[0]] for h in hosts)


def split_behind_a_partition(
    lab: Lab, while_apart: Callable[[], None] = lambda: None
) -> tuple[str, str]:
    """h1+h2 form one instance while a partition hides h3, which then forms its
    own (the younger); ``while_apart`` runs before the partition ends. Returns
    (h1's cluster id, h3's)."""
    lab.up(3, start=False)
    with Partition(lab, [["h1", "h2"], ["h3"]]):
        lab.start("h1")
        lab.start("h2")
        wait_for(lambda: together(cluster_ids(lab), "h1", "h2"), 60, "h1 and h2 to form")
        lab.start("h3")
        wait_for(lambda: cluster_ids(lab)["h3"], 60, "h3 to bootstrap alone")
        ids = cluster_ids(lab)
        assert ids["h3"] != ids["h1"]
        while_apart()
    return ids["h1"], ids["h3"]


def test_two_young_instances_merge_into_the_older_when_they_see_each_other() -> None:
    with short_lab("m") as lab:
        older, _ = split_behind_a_partition(lab)
        wait_for(lambda: not verdict(health(lab), 3), 90, "one cluster after the partition")
        assert set(cluster_ids(lab).values()) == {older}
        assert MOVE_LINE in lab.host("h3").log.read_text()
        assert host_api(lab.host("h3")).get("/peer")["split_brain"] is None


def test_a_cluster_in_use_is_kept_and_the_young_one_joins_it() -> None:
    with short_lab("u") as lab:

        def use_h3() -> None:
            # While apart, someone uses h3's cluster: it is settled now.
            api = host_api(lab.host("h3"))
            user = {"name": "carol", "role": "viewer", "password": "a-long-password-1"}
            assert api.post("/users", user)[0] == 201
            wait_for(lambda: not young(lab, "h3"), 30, "h3 to announce its cluster settled")
            # Asked to rejoin an instance it cannot see: refused, nothing happens.
            status, body = api.post("/cluster/rejoin", {"cluster_id": "nope"})
            assert status == 404 and body["code"] == "instance_not_found"

        _, used = split_behind_a_partition(lab, use_h3)
        wait_for(lambda: not verdict(health(lab), 3), 90, "one cluster after the partition")
        assert set(cluster_ids(lab).values()) == {used}
        for h in ("h1", "h2"):
            assert MOVE_LINE in lab.host(h).log.read_text()
        names = {u["name"] for u in host_api(lab.host("h1")).get("/users")["items"]}
        assert "carol" in names


def young(lab: Lab, host: str) -> bool:
    return bool(host_api(lab.host(host)).get("/peer")["discovery"]["discovery"]["young"])
