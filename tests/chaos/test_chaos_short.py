"""The short chaos profile on a real 3-host lab: every fault kind once, all checkers.

About 3-5 minutes: formation, three HA VMs, workloads through every peer, ten
faults one after another, healing, convergence, final reads, the report.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from chaos.faults import KINDS
from chaos.report import write_report
from chaos.runner import Run, RunConfig
from chaos.scenarios import PROFILES, SCENARIOS

DAEMON = Path(__file__).resolve().parents[2] / "peer" / "daemon.py"
pytestmark = [
    pytest.mark.xdist_group("lab"),
    pytest.mark.lab,
    pytest.mark.skipif(not DAEMON.exists(), reason="the peer daemon has not landed yet"),
]
SEED = 11
# raft/durable.py drops buffered journal entries when a write fails with ENOSPC:
# that host's replica then stops applying (or refuses its journal at the next
# start) and, acting on its stale state, may run a VM another host runs too.
# Reported to the raft owner; until fixed, a failure implicating only hosts
# whose disk was filled is an expected failure.


def implicated_hosts(verdicts: dict[str, Any]) -> set[str]:
    """Hosts behind or silent at the end, and hosts of double runs."""
    out: set[str] = set()
    conv = verdicts.get("convergence")
    if conv and conv["status"] == "fail":
        rnd = conv["evidence"].get("last_round") or {}
        top = max((v["revision"] for v in rnd.values() if v), default=0)
        out |= {h for h, v in rnd.items() if v is None or v["revision"] < top}
    dr = verdicts.get("double_run")
    if dr and dr["status"] == "fail":
        # A double run counts as this bug only if one of its hosts is a stale replica.
        for d in dr["evidence"]["double_runs"]:
            if not {i[0] for i in d["instances"]} & out:
                return {"?"}
    return out


def test_short_profile_injects_every_fault_and_every_invariant_holds(tmp_path: Path) -> None:
    prof = PROFILES["short"]
    # QEMU's monitor sockets live under the lab root: keep it short (sun_path is 108 bytes).
    root = Path(tempfile.mkdtemp(prefix="qxc-", dir="/tmp"))
    cfg = RunConfig(
        scenario="mixed",
        kinds=SCENARIOS["mixed"],
        nodes=prof.nodes,
        duration=30,
        seed=SEED,
        every_kind_once=True,
        registers=prof.registers,
        ha_vms=prof.ha_vms,
        lab_root=root,
        lab_name="s" + secrets.token_hex(3),
    )
    try:
        res = Run(cfg).execute()
        left_behind = (root / cfg.lab_name).exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_report(res, tmp_path / "report")
    page = (tmp_path / "report" / "index.html").read_text()
    where = f"report: {tmp_path / 'report' / 'index.html'}"
    assert res.error is None, f"{res.error}; {where}"
    assert set(res.figures["fault_kinds"]) == set(KINDS), where
    assert "<svg" in page
    assert not left_behind, "the lab was not taken down"
    verdicts = {v["checker"]: v for v in res.verdicts}
    assert set(verdicts) == {"linearizable", "reads_written", "sets", "double_run", "ha",
                             "convergence", "availability"}  # fmt: skip
    failed = {k: v["summary"] for k, v in verdicts.items() if v["status"] == "fail"}
    if failed and set(failed) <= {"convergence", "double_run"}:
        implicated = implicated_hosts(verdicts)
        filled = {h for f in res.faults if f["kind"] == "disk_full" for h in f["hosts"]}
        if implicated and implicated <= filled:
            pytest.xfail(
                f"known product bug (raft journal after ENOSPC) on {sorted(implicated)}: "
                f"{failed}; {where}"
            )
    assert not failed, f"{failed}; {where}"
    assert res.figures["lost_writes"] == 0 and res.figures["double_runs"] == 0
