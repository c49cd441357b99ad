"""A host's wall clock jumped forward or back while its peer runs.

Peers the harness starts run under ``chaos.clockshim`` (see ``PEER_CMD``), which
adds the seconds written in ``<host dir>/clock_offset`` to ``time.time()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.faults.base import Fault
from chaos.lab import Lab

OFFSET_FILE = "clock_offset"
PEER_CMD = (
    "{python}",
    "-m",
    "chaos.clockshim",
    "{dir}/" + OFFSET_FILE,
    "--",
    "{quantix}",
    "peer",
    "--config",
    "{config}",
)


def offset_path(lab: Lab, host: str) -> Path:
    return lab.host(host).dir / OFFSET_FILE


def set_offset(lab: Lab, host: str, seconds: float) -> None:
    p = offset_path(lab, host)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(f"{seconds}\n")
    tmp.replace(p)  # atomic: the shim never reads half a number


class ClockJump(Fault):
    kind = "clock"

    def __init__(self, lab: Lab, hosts: list[str], offset_s: float) -> None:
        super().__init__(hosts)
        self.lab = lab
        self.offset_s = offset_s

    def params(self) -> dict[str, Any]:
        return {"offset_s": self.offset_s}

    def up_hosts(self, everyone: list[str]) -> list[str]:
        return list(everyone)

    def inject(self) -> None:
        for h in self.hosts:
            set_offset(self.lab, h, self.offset_s)

    def heal(self) -> None:
        for h in self.hosts:
            set_offset(self.lab, h, 0)
