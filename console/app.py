"""The console's state: the screen stack, the last snapshot, the unlocked period.

Pure of any terminal: ``frame(width, height)`` gives the lines to draw and
``key(name)`` takes one key, so the whole console can be driven in tests
without a terminal (the tmux tests drive the real one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console import fmt
from console.client import LocalClient
from console.errors import ConsoleError
from console.model import Snapshot, fetch
from console.screens.base import Screen
from console.ui import Line

log = logging.getLogger("console")

AUTH_IDLE_S = 300.0  # the console stays unlocked this long after the last action


@dataclass
class Options:
    refresh_s: float = 1.0
    confirm_s: int = 30
    ssh_seconds: int | None = None  # test hosts only: SSH timers in seconds


class App:
    def __init__(
        self,
        client: LocalClient,
        options: Options | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from console.screens.main import MainScreen

        self.client = client
        self.options = options or Options()
        self.clock = clock
        self.snap = Snapshot()
        self.stack: list[Screen] = [MainScreen()]
        self.message = ("", "normal")
        self.auth_user: str | None = None
        self.auth_until = 0.0
        self.quit = False
        self.external: Callable[[list[str], str], int] | None = None
        self._wizard_offered = False

    # -- the AppView interface -----------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def push(self, screen: Screen) -> None:
        self.stack.append(screen)
        self.message = ("", "normal")

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()

    def replace(self, screen: Screen) -> None:
        self.stack[-1] = screen

    def home(self) -> None:
        del self.stack[1:]

    def say(self, text: str, style: str = "normal") -> None:
        self.message = (text, style)

    def refresh(self) -> None:
        self.snap = fetch(self.client)
        self.snap.taken_at = self.clock()  # countdowns run on the app's clock
        if not self._wizard_offered and self.snap.host.get("setup_required"):
            from console.screens.wizard import WizardScreen

            self._wizard_offered = True
            self.home()
            self.push(WizardScreen(self))

    def authenticated(self) -> bool:
        return self.auth_user is not None and self.clock() < self.auth_until

    def set_authenticated(self, user: str) -> None:
        self.auth_user = user
        self.auth_until = self.clock() + AUTH_IDLE_S

    def require_auth(self, what: str, then: Callable[[], Screen]) -> None:
        from console.screens.auth import LockedScreen, LoginScreen

        if self.authenticated():
            self.auth_until = self.clock() + AUTH_IDLE_S
            self.push(then())
        elif (self.snap.host.get("console") or {}).get("locked"):
            self.push(LockedScreen())
        else:
            self.push(LoginScreen(what, then))

    def run_external(self, argv: list[str], banner: str) -> int:
        if self.external is None:
            return -1
        return self.external(argv, banner)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        if self.authenticated():
            self.auth_until = self.clock() + AUTH_IDLE_S
        return self.client.call(method, path, body)

    # -- the loop's side ---------------------------------------------------------------
    # The console on TTY1 must keep running: a bug in one screen is logged and
    # shown on the message line, and the console goes back to the main screen.
    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except ConsoleError as e:
            self.say(str(e), "error")
        except Exception as e:
            log.exception("console error")
            self.home()
            self.say(f"internal error ({type(e).__name__}: {e}); back to the main screen", "error")

    def tick(self) -> None:
        def step() -> None:
            if self.clock() - self.snap.taken_at >= self.options.refresh_s:
                self.refresh()
            self.stack[-1].tick(self)

        self._guard(step)

    def key(self, name: str) -> None:
        if name == "CTRL_C":
            return  # the console on TTY1 must not be closed by a stray Ctrl-C
        self._guard(lambda: self.stack[-1].on_key(self, name))

    def frame(self, width: int, height: int) -> list[Line]:
        """The whole screen: title bar, the screen's body, hints and a message."""
        try:
            return self._frame(width, height)
        except Exception as e:
            log.exception("console error while drawing")
            self.home()
            self.say(f"internal error ({type(e).__name__}: {e}); back to the main screen", "error")
            return self._frame(width, height)

    def _frame(self, width: int, height: int) -> list[Line]:
        screen = self.stack[-1]
        body = screen.render(self, width, height - 4)[: max(0, height - 4)]  # may set the title
        p = self.snap.peer
        left = f" QUANTIX {p.get('version', '')}  {screen.title}"
        right = f"{p.get('hostname', '')}  {time.strftime('%H:%M:%S')} "
        top = left + " " * max(1, width - len(left) - len(right)) + right
        body += [Line()] * (height - 4 - len(body))
        msg, style = self.message
        hint = screen.hint
        if len(hint) > width:  # the main menu: two lines
            half = hint.find("  F6")
            footer = [
                Line(hint[:half].strip()[:width], "key"),
                Line(hint[half:].strip()[:width], "key"),
            ]
        else:
            footer = [Line("-" * width, "dim"), Line(hint[:width], "key")]
        lines = [Line(top[:width], "title"), *body, Line(fmt.clip(msg, width), style), *footer]
        return lines[:height]
