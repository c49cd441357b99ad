"""The password prompt before any change, and the lockout screen."""

from __future__ import annotations

from collections.abc import Callable

from console import fmt
from console.errors import ApiRefused
from console.screens.base import AppView, Screen, remaining
from console.ui import Field, Form, Line


class LoginScreen(Screen):
    title = "Authentication required"
    hint = "Enter: next / log in   Esc: cancel"

    def __init__(self, what: str, then: Callable[[], Screen]) -> None:
        self.what = what
        self.then = then
        self.form = Form(
            [Field("username", "User", "admin"), Field("password", "Password", secret=True)]
        )
        self.form.focus = 1
        self.error = ""

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        out = [
            Line(),
            Line(f"  Changing {self.what} needs an administrator's password."),
            Line(
                "  (A cluster admin; on a host not in a cluster, the password set at first boot.)",
                "dim",
            ),
            Line(),
            *self.form.lines(),
            Line(),
        ]
        if self.error:
            out.append(Line("  " + self.error, "error"))
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
            return
        if not self.form.key(key):
            return
        try:
            res = app.api(
                "POST",
                "/host/auth",
                {"username": self.form["username"], "password": self.form["password"]},
            )
        except ApiRefused as e:
            self.form.field("password").value = ""
            if e.code == "console_locked":
                app.refresh()
                app.replace(LockedScreen())
                return
            self.error = e.message
            return
        app.set_authenticated(str(res.get("user")))
        app.replace(self.then())


class LockedScreen(Screen):
    title = "Console locked"

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        console = app.snap.host.get("console") or {}
        left = remaining(app, console.get("remaining_s"))
        if not console.get("locked"):
            return [Line(), Line("  The console is unlocked again. Esc: back", "ok")]
        return [
            Line(),
            Line("  Too many wrong passwords.", "error"),
            Line(f"  The console is LOCKED for {fmt.mmss(left)}.", "error"),
            Line(),
            Line("  The lock is kept by the peer: restarting the console does not lift it.", "dim"),
            Line("  An admin can lift it: POST /api/v1/host/console/unlock on this host.", "dim"),
        ]
