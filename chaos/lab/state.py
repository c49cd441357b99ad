"""The lab's state file: every resource is recorded here BEFORE it is created.

So ``down`` can remove everything a lab made even if the lab command crashed
halfway through ``up``; removal tolerates recorded resources that never came to
exist. Written atomically (rename) as JSON, mode 0600 (it names secret files).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.lab.errors import LabStateError

STATE_FILE = "lab.json"


@dataclass
class HostState:
    name: str  # h1, h2, ...
    index: int
    netns: str
    veth: str
    address: str
    dir: str
    cluster: str | None  # None: factory state
    secret_file: str | None
    pid: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.dir)


@dataclass
class LabState:
    name: str
    dir: str
    subnet: str
    bridge: str
    bridge_address: str
    cluster: str
    peer_cmd: list[str]
    api_port: int = 8443
    # node.yaml's ``firewall: true`` on every host (nftables inside its namespace).
    firewall: bool = False
    hosts: dict[str, HostState] = field(default_factory=dict)
    # The data network (OVN's uplink): a second bridge, eth1 in every host.
    data_bridge: str | None = None
    data_subnet: str | None = None

    @property
    def path(self) -> Path:
        return Path(self.dir) / STATE_FILE

    def save(self) -> None:
        Path(self.dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(STATE_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, lab_dir: Path) -> LabState | None:
        """The saved state, or None if the lab has no state file."""
        path = lab_dir / STATE_FILE
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise LabStateError(f"cannot read {path}: {e}") from None
        try:
            hosts = {k: HostState(**v) for k, v in raw.pop("hosts", {}).items()}
            return cls(**raw, hosts=hosts)
        except TypeError as e:
            raise LabStateError(f"{path} does not look like a lab state file: {e}") from None
