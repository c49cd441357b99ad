"""What every screen has, and the interface a screen sees of the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from console.client import LocalClient
from console.model import Snapshot
from console.ui import Line

if TYPE_CHECKING:
    from console.app import Options


class AppView(Protocol):
    """The app as screens use it."""

    client: LocalClient
    snap: Snapshot
    options: Options

    def push(self, screen: Screen) -> None: ...
    def pop(self) -> None: ...
    def replace(self, screen: Screen) -> None: ...
    def home(self) -> None: ...
    def refresh(self) -> None: ...
    def say(self, text: str, style: str = "normal") -> None: ...
    def now(self) -> float: ...
    def authenticated(self) -> bool: ...
    def set_authenticated(self, user: str) -> None: ...
    def require_auth(self, what: str, then: Callable[[], Screen]) -> None: ...
    def run_external(self, argv: list[str], banner: str) -> int: ...
    def api(self, method: str, path: str, body: Any = None) -> Any: ...


class Screen:
    title = ""
    hint = "Esc: back"

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        return []

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()

    def tick(self, app: AppView) -> None:
        """Called on every loop turn (about 10 times a second)."""


def remaining(app: AppView, seconds: float | None) -> float | None:
    """A countdown from the last snapshot, advanced by the time since it was taken."""
    if seconds is None:
        return None
    return max(0.0, seconds - (app.now() - app.snap.taken_at))
