"""Discovery's exceptions: one root, a flat set of subclasses.

Errors that can reach the API (a join handshake that fails) carry an HTTP
status and a stable code, like the store's errors.
"""

from __future__ import annotations


class DiscoveryError(Exception):
    """Root of every error raised by the discovery package."""

    status = 500
    code = "discovery_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TxtError(DiscoveryError):
    """A TXT record (ours to encode or a peer's to parse) is malformed or incomplete."""

    status = 400
    code = "bad_txt"


class MdnsError(DiscoveryError):
    """The mDNS stack could not start, announce or browse on the management address."""

    status = 503
    code = "mdns_error"


class HandshakeError(DiscoveryError):
    """A join handshake message is malformed, expired, replayed or its proof is wrong."""

    status = 403
    code = "join_refused"


class SecretWrapError(DiscoveryError):
    """A cluster secret handed to an adopted host is malformed."""

    status = 400
    code = "bad_secret_payload"


class PairingError(DiscoveryError):
    """Adopting a factory host failed: no, a wrong or a stale pairing proof."""

    status = 403
    code = "pairing_refused"
