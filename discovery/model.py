"""What a host announces about itself and what we remember about the hosts we see.

Plain frozen dataclasses and their validation, shared by the TXT codec, the
bootstrap rule and the ``Discovery`` table. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from discovery.errors import TxtError

SERVICE_TYPE: Final = "_quantix._tcp.local."

Role = Literal["factory", "joining", "member", "leader"]
ROLES: Final[frozenset[str]] = frozenset(get_args(Role))
CLUSTERED_ROLES: Final[frozenset[str]] = frozenset({"member", "leader"})

# Node ids become DNS labels (instance and host names): lowercase so that two ids
# can never collide case-insensitively, no dots so they stay one label.
NODE_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# The same rule as node.yaml's cluster name (peer/config.py), kept here because
# discovery must not import peer/.
CLUSTER_NAME_RE: Final = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
CLUSTER_ID_RE: Final = re.compile(r"^[A-Za-z0-9-]{1,64}$")
VERSION_RE: Final = re.compile(r"^[A-Za-z0-9.+_-]{1,32}$")
CERT_FP_RE: Final = re.compile(r"^[0-9a-f]{64}$")
HOSTNAME_RE: Final = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$")


@dataclass(frozen=True)
class Announcement:
    """The hints one host publishes in its TXT record. Never a secret.

    ``cluster_name`` is "" in factory state; ``cluster_id`` is "" until the host
    belongs to a formed cluster (it tells two instances of one name apart).
    ``young``: the host's cluster has no workload and no user changes yet, so
    it may dissolve into another instance of its name (discovery/bootstrap.py).
    """

    node_id: str
    cluster_name: str
    api_port: int
    raft_port: int
    version: str
    role: Role
    cluster_id: str = ""
    hostname: str = ""
    young: bool = False
    # SHA-256 hex of the host's API certificate: a hint (mDNS is not
    # authenticated); what pins it is the pairing code or the join proof.
    cert_fp: str = ""

    def __post_init__(self) -> None:
        validate(self)

    @property
    def is_factory(self) -> bool:
        return self.cluster_name == ""

    @property
    def is_clustered(self) -> bool:
        return self.role in CLUSTERED_ROLES


@dataclass(frozen=True)
class SeenHost:
    """A host seen by mDNS: its announcement, its address and when we saw it.

    ``first_seen`` and ``last_seen`` are this process's clock (time.monotonic()
    by default), so they are comparable with the ``now`` given to the bootstrap rule.
    """

    info: Announcement
    address: str
    first_seen: float
    last_seen: float

    @property
    def node_id(self) -> str:
        return self.info.node_id

    @property
    def cluster_name(self) -> str:
        return self.info.cluster_name

    @property
    def cluster_id(self) -> str:
        return self.info.cluster_id

    @property
    def role(self) -> Role:
        return self.info.role

    @property
    def api_url(self) -> str:
        return f"https://{self.address}:{self.info.api_port}"

    @property
    def raft_addr(self) -> str:
        return f"{self.address}:{self.info.raft_port}"


def validate(a: Announcement) -> None:
    """Raise TxtError unless every field is well-formed and the fields agree."""
    if not NODE_ID_RE.match(a.node_id):
        raise TxtError(f"node id {a.node_id!r} must be 1-63 of [a-z0-9-]")
    if a.cluster_name and not CLUSTER_NAME_RE.match(a.cluster_name):
        raise TxtError(f"cluster name {a.cluster_name!r} is not a valid cluster name")
    if a.cluster_id and not CLUSTER_ID_RE.match(a.cluster_id):
        raise TxtError(f"cluster id {a.cluster_id!r} must be 1-64 of [A-Za-z0-9-]")
    for label, port in (("api", a.api_port), ("raft", a.raft_port)):
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise TxtError(f"{label} port {port!r} is not a port number")
    if not VERSION_RE.match(a.version):
        raise TxtError(f"version {a.version!r} must be 1-32 of [A-Za-z0-9.+_-]")
    if a.hostname and not HOSTNAME_RE.match(a.hostname):
        raise TxtError(f"hostname {a.hostname!r} is not a host name")
    if a.cert_fp and not CERT_FP_RE.match(a.cert_fp):
        raise TxtError("certificate fingerprint must be 64 hex characters")
    if a.role not in ROLES:
        raise TxtError(f"role {a.role!r} must be one of {sorted(ROLES)}")
    # The fields must tell one story, or the bootstrap rule would act on nonsense.
    if (a.role == "factory") != (a.cluster_name == ""):
        raise TxtError("role 'factory' and an empty cluster name go together")
    if a.role in CLUSTERED_ROLES and not a.cluster_id:
        raise TxtError(f"role {a.role!r} needs a cluster id")
    if a.role == "factory" and a.cluster_id:
        raise TxtError("a factory-state host has no cluster id")
    if a.young and not a.cluster_id:
        raise TxtError("only a host in a cluster can say its cluster is young")
