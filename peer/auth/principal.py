"""Who is calling: the result of authenticating one request."""

from __future__ import annotations

from dataclasses import dataclass

from peer.auth.roles import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``via`` is how: ``session`` (browser cookie, needs
    CSRF on writes), ``token`` (bearer), ``local`` (the root-only unix socket)."""

    user: str
    role: Role
    via: str
    token_id: str | None = None
    session_key: str | None = None
    csrf: str | None = None


ANONYMOUS_USER = "-"
