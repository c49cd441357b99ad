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
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.lab.formation import health, start_scrambled, verdict
from tests.labs import short_lab

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


def test_16_hosts_started_together_form_one_cluster_3_times(tmp_path: Path) -> None:
    loop(16, 3, 90.0, tmp_path)


@pytest.mark.slow
def test_16_hosts_started_together_form_one_cluster_10_times(tmp_path: Path) -> None:
    loop(16, 10, 90.0, tmp_path)


@pytest.mark.slow
def test_32_hosts_started_together_form_one_cluster_5_times(tmp_path: Path) -> None:
    loop(32, 5, 120.0, tmp_path)
