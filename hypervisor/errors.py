"""The hypervisor layer's exceptions: one root, a flat set of subclasses.

Each carries a message a person understands, an HTTP ``status`` and a stable
``code`` (some reach the API), and, when libvirt said something, libvirt's own
message in ``details["libvirt"]``.
"""

from __future__ import annotations

from typing import Any


class HypervisorError(Exception):
    """Root of every error raised by hypervisor/."""

    status = 500
    code = "hypervisor_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidSpec(HypervisorError):
    """A VM spec (or a request's argument) is malformed or out of range."""

    status = 400
    code = "invalid_spec"


class ConnectionFailed(HypervisorError):
    """The hypervisor connection could not be opened or was lost."""

    status = 503
    code = "hypervisor_unavailable"


class DomainNotFound(HypervisorError):
    """No domain of that VM exists on this host."""

    status = 404
    code = "domain_not_found"


class DomainExists(HypervisorError):
    """A domain of that VM (or of that name) is already defined here."""

    status = 409
    code = "domain_exists"


class InvalidState(HypervisorError):
    """The domain is not in a state that allows the operation (e.g. start a running VM)."""

    status = 409
    code = "invalid_state"


class PoolNotFound(HypervisorError):
    """No storage pool of that name is defined on this host."""

    status = 404
    code = "pool_not_found"


class VolumeNotFound(HypervisorError):
    """No volume of that name is in the pool."""

    status = 404
    code = "volume_not_found"


class VolumeExists(HypervisorError):
    """A volume of that name already exists in the pool."""

    status = 409
    code = "volume_exists"


class SnapshotNotFound(HypervisorError):
    """The domain has no snapshot of that name."""

    status = 404
    code = "snapshot_not_found"


class DeviceNotFound(HypervisorError):
    """The domain has no device (disk) of that id."""

    status = 404
    code = "device_not_found"


class ImageNotFound(HypervisorError):
    """The image (file or URL) to import or clone from does not exist."""

    status = 404
    code = "image_not_found"


class ChecksumMismatch(HypervisorError):
    """An imported image's sha256 is not the one expected."""

    status = 422
    code = "checksum_mismatch"


class Unsupported(HypervisorError):
    """The host or its libvirt/QEMU cannot do that."""

    status = 501
    code = "unsupported"


class OperationTimeout(HypervisorError):
    """An operation did not finish in time (e.g. a guest ignored ACPI shutdown)."""

    status = 504
    code = "timeout"


class OperationFailed(HypervisorError):
    """Libvirt or QEMU failed to do what was asked; ``details['libvirt']`` says why."""

    status = 500
    code = "operation_failed"


class AgentNotConnected(HypervisorError):
    """The VM's guest agent is not connected (not installed, not started, or gone)."""

    status = 409
    code = "agent_not_connected"


class AgentTimeout(HypervisorError):
    """The guest agent did not answer in time."""

    status = 409
    code = "agent_timeout"


class AgentRefused(HypervisorError):
    """The guest agent answered with an error (its code in ``details["agent_code"]``)."""

    status = 422
    code = "agent_refused"


class AgentUnsupported(HypervisorError):
    """The guest agent does not offer that capability."""

    status = 409
    code = "agent_unsupported"
