"""F3: SSH on for 5-120 minutes (the peer turns it off), off, or permanent."""

from __future__ import annotations

from typing import Any

from console import fmt
from console.errors import ApiRefused
from console.screens.base import AppView, Screen, remaining
from console.ui import Line, kv

STEPS = [5, 10, 15, 30, 45, 60, 90, 120]


class SshScreen(Screen):
    title = "SSH (F3)"
    hint = "Left/Right: timer  E: enable  D: disable  P: permanent  Esc: back"

    def __init__(self) -> None:
        self.minutes_i = 2  # 15 minutes
        self.error = ""

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        ssh = app.snap.host.get("ssh") or {}
        if ssh.get("mode") == "timed":
            status = [
                kv("Status", "SSH ENABLED", "warn"),
                kv("Auto-disable in", fmt.mmss(remaining(app, ssh.get("remaining_s"))), "warn"),
            ]
        elif ssh.get("mode") == "permanent":
            status = [kv("Status", "SSH ENABLED (permanent)", "warn")]
        else:
            status = [kv("Status", "SSH disabled", "ok")]
        control = ssh.get("control")
        out = [
            Line(),
            *status,
            kv(
                "sshd control",
                "systemd" if control == "systemd" else "recorded (no systemd sshd here)",
                "dim",
            ),
            Line(),
            kv("Timer", f"< {STEPS[self.minutes_i]} minutes >"),
            Line(),
            Line("  [E] Enable SSH with the timer    [D] Disable SSH    [P] Permanent SSH"),
            Line("  Every change is audited.", "dim"),
        ]
        if app.options.ssh_seconds:
            out.append(Line(f"  (test mode: E enables for {app.options.ssh_seconds} s)", "dim"))
        if self.error:
            out.append(Line("  " + self.error, "error"))
        return out

    def on_key(self, app: AppView, key: str) -> None:
        body: dict[str, Any] | None = None
        if key == "ESC":
            app.pop()
        elif key == "LEFT":
            self.minutes_i = max(0, self.minutes_i - 1)
        elif key == "RIGHT":
            self.minutes_i = min(len(STEPS) - 1, self.minutes_i + 1)
        elif key in ("e", "E"):
            body = {"action": "enable", "minutes": STEPS[self.minutes_i]}
            if app.options.ssh_seconds:
                body = {"action": "enable", "seconds": app.options.ssh_seconds}
        elif key in ("d", "D"):
            body = {"action": "disable"}
        elif key in ("p", "P"):
            body = {"action": "permanent"}
        if body is None:
            return
        try:
            app.api("POST", "/host/ssh", body)
            self.error = ""
        except ApiRefused as e:
            self.error = e.message
        app.refresh()
