"""The API's exceptions: one root (``ApiError``) and a flat set of subclasses.

Every error a user sees is JSON ``{"code", "message", "details"}`` with a 4xx/5xx
status. ``code`` is stable (clients and the CLI branch on it); ``message`` is for
people. Handlers raise these; the error middleware turns them (and the store's
typed errors, see ``from_store_error``) into responses.
"""

from __future__ import annotations

from typing import Any

from raft.errors import Conflict as StoreConflict
from raft.errors import StoreError


class ApiError(Exception):
    """Root of every error the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(ApiError):
    """The request is malformed (not JSON, bad query parameter)."""


class ValidationFailed(ApiError):
    """The body does not match the route's schema, or a field value is refused."""

    status = 422
    code = "validation_failed"


class Unauthenticated(ApiError):
    """No credentials, or credentials that do not identify anyone."""

    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    """The caller is known but their role does not allow this route."""

    status = 403
    code = "forbidden"


class NotFound(ApiError):
    """The resource does not exist."""

    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class AlreadyExists(ApiError):
    """A resource with that name or key already exists."""

    status = 409
    code = "already_exists"


class ConflictError(ApiError):
    """The write lost a race or contradicts the current state; re-read and retry."""

    status = 409
    code = "conflict"


class PreconditionFailed(ApiError):
    """``If-Match`` named a version that is no longer current."""

    status = 412
    code = "precondition_failed"


class Locked(ApiError):
    """The account is locked after too many failed logins."""

    status = 423
    code = "account_locked"


class TooManyRequests(ApiError):
    """This source called an open route too often; retry after ``retry_after_s``."""

    status = 429
    code = "rate_limited"


class Unavailable(ApiError):
    """The cluster cannot serve this now (no quorum, commit timeout); retry later."""

    status = 503
    code = "unavailable"


class Internal(ApiError):
    """A bug: logged with its traceback on the server, never shown to the user."""

    status = 500
    code = "internal_error"


def from_store_error(e: StoreError) -> ApiError:
    """Map a store error onto the API's: conflicts → 409, availability → 503.

    The store's own ``code`` is kept so that a client can tell ``no_quorum``
    from ``commit_timeout`` from ``unknown_outcome``.
    """
    if isinstance(e, StoreConflict):
        return ConflictError(e.message, code="conflict", **_plain(e.details))
    err = ApiError(e.message, code=e.code, **_plain(e.details))
    err.status = e.status if 400 <= e.status < 600 else 503
    return err


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        for k, v in details.items()
    }
