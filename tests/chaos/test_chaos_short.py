"""The short chaos profile on a real 3-host lab: every fault kind once, all checkers.

About 3-5 minutes: formation, three HA VMs, workloads through every peer, ten
faults one after another, healing, convergence, final reads, the report.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

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
# raft/durable.py: a journal write that failed with ENOSPC leaves a gap, and the
# peer refuses its own journal at the next start (reported to the raft owner).
KNOWN_JOURNAL_GAP = "the log has a gap, refusing to load it"


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
    res = Run(cfg).execute()
    write_report(res, tmp_path / "report")
    page = (tmp_path / "report" / "index.html").read_text()
    where = f"report: {tmp_path / 'report' / 'index.html'}"
    assert res.error is None, f"{res.error}; {where}"
    assert set(res.figures["fault_kinds"]) == set(KINDS), where
    assert "<svg" in page
    assert not (root / cfg.lab_name).exists(), "the lab was not taken down"
    root.rmdir()
    verdicts = {v["checker"]: v for v in res.verdicts}
    assert set(verdicts) == {"linearizable", "reads_written", "sets", "double_run", "ha",
                             "convergence", "availability"}  # fmt: skip
    failed = {k: v["summary"] for k, v in verdicts.items() if v["status"] == "fail"}
    logs = "\n".join(line for tail in res.host_logs.values() for line in tail)
    if set(failed) == {"convergence"} and KNOWN_JOURNAL_GAP in logs:
        pytest.xfail(f"known product bug (raft journal after ENOSPC): {failed}; {where}")
    assert not failed, f"{failed}; {where}"
    assert res.figures["lost_writes"] == 0 and res.figures["double_runs"] == 0
