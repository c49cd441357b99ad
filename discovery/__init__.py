"""Finding peers on the LAN: mDNS announce/browse, the bootstrap rule, the join handshake.

Only ``discovery/_zc.py`` imports zeroconf; everything else here is pure or stdlib.
The daemon's entry points are re-exported here; see docs/discovery.md.
"""

from discovery.adopt import AdoptPayload, unwrap_secret, wrap_secret
from discovery.bootstrap import (
    Decision,
    Instance,
    Merge,
    SplitBrain,
    decide,
    merge,
    new_cluster_id,
    split_brains,
)
from discovery.errors import DiscoveryError, HandshakeError, MdnsError, SecretWrapError, TxtError
from discovery.handshake import (
    ChallengeBook,
    JoinChallenge,
    JoinHello,
    JoinProve,
    cert_fingerprint,
    finish_join,
    start_join,
)
from discovery.model import SERVICE_TYPE, Announcement, Role, SeenHost
from discovery.service import Discovery
from discovery.txt import encode_txt, parse_txt

__all__ = [
    "SERVICE_TYPE",
    "AdoptPayload",
    "Announcement",
    "ChallengeBook",
    "Decision",
    "Discovery",
    "DiscoveryError",
    "HandshakeError",
    "Instance",
    "JoinChallenge",
    "JoinHello",
    "JoinProve",
    "MdnsError",
    "Merge",
    "Role",
    "SecretWrapError",
    "SeenHost",
    "SplitBrain",
    "TxtError",
    "cert_fingerprint",
    "decide",
    "encode_txt",
    "finish_join",
    "merge",
    "new_cluster_id",
    "parse_txt",
    "split_brains",
    "start_join",
    "unwrap_secret",
    "wrap_secret",
]
