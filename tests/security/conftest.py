"""The security tests reuse the API fixtures (an app on a LocalStore, tokens per role)."""

from tests.peer.api.conftest import ctx, store, tokens  # noqa: F401 (pytest fixtures)
