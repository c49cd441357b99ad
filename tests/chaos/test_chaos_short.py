"""The short chaos profile on a real 3-host lab: every fault kind once, all checkers.

About 3-5 minutes: formation, three HA VMs, workloads through every peer, ten
faults one after another, healing, convergence, final reads, the report.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from chaos.faults import KINDS
from chaos.report import write_report
from chaos.runner import Run, RunConfig
from chaos.scenarios import PROFILES, SCENARIOS

pytestmark = [
    pytest.mark.xdist_group("lab"),
    pytest.mark.lab,
]
SEED = 11


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
    assert not failed, f"{failed}; {where}"
    assert res.figures["lost_writes"] == 0 and res.figures["double_runs"] == 0
    # Live migrations of the HA VMs went on among the faults.
    assert res.figures["migrations_accepted"] >= 1, res.figures
