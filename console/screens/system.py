"""F6 services, F7 diagnostics, F10 power, F12 emergency shell."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from console.errors import ApiRefused, ConsoleError
from console.screens.base import AppView, Screen
from console.ui import Line, kv

SERVICES = [
    ("1", "peer", "Quantix peer"),
    ("2", "libvirt", "libvirt"),
    ("3", "ovs", "Open vSwitch"),
    ("4", "ssh", "SSH server"),
]


class ServicesScreen(Screen):
    title = "Restart services (F6)"
    hint = "1-4: choose  Y: restart  Esc: back"

    def __init__(self) -> None:
        self.chosen: str | None = None
        self.result = ""
        self.style = "ok"

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        out = [Line()]
        for k, name, label in SERVICES:
            mark = ">" if self.chosen == name else " "
            out.append(Line(f" {mark}[{k}] {label}", "focus" if self.chosen == name else "normal"))
        out.append(Line())
        if self.chosen:
            out.append(Line(f"  Press Y to restart {self.chosen}.", "warn"))
        if self.result:
            out.append(Line("  " + self.result, self.style))
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
            return
        for k, name, _ in SERVICES:
            if key == k:
                self.chosen = name
        if key in ("y", "Y") and self.chosen:
            try:
                res = app.api("POST", "/host/services/restart", {"service": self.chosen})
                how = res.get("how")
                done = "requested" if how == "systemd" else "recorded (lab/test host: not executed)"
                self.result = f"{self.chosen}: restart {done}"
                self.style = "ok"
            except ApiRefused as e:
                self.result, self.style = e.message, "error"
            self.chosen = None


class DiagnosticsScreen(Screen):
    title = "Diagnostics (F7)"
    hint = "R: reload  Esc: back"

    def __init__(self, app: AppView) -> None:
        self.data: dict[str, Any] = {}
        self.error = ""
        self.load(app)

    def load(self, app: AppView) -> None:
        try:
            self.data = app.api("GET", "/host/diagnostics?limit=100")
            self.error = ""
        except ConsoleError as e:
            self.error = str(e)

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        if self.error:
            return [Line(), Line("  " + self.error, "error")]
        logs = self.data.get("logs") or {}
        hw = self.data.get("hardware") or {}
        cpu, mem = hw.get("cpu") or {}, hw.get("memory") or {}
        disks = ", ".join(f"{d['name']} {d['size_gib']} GiB" for d in hw.get("disks") or []) or "-"
        nics = ", ".join(f"{n['name']} ({n['state']})" for n in hw.get("nics") or []) or "-"
        out = [
            kv("CPU", f"{cpu.get('model', '-')} - {cpu.get('cores', '-')} cores"),
            kv(
                "Memory",
                f"{mem.get('total_mib', 0) / 1024:.1f} GiB, "
                f"{mem.get('available_mib', 0) / 1024:.1f} GiB free",
            ),
            kv("Disks", disks),
            kv("NICs", nics),
            kv("KVM / kernel", f"{'yes' if hw.get('kvm') else 'no'} / {hw.get('kernel', '-')}"),
            kv(
                "Peer log",
                f"{logs.get('errors', 0)} errors, {logs.get('warnings', 0)} warnings since start",
                "error" if logs.get("errors") else ("warn" if logs.get("warnings") else "ok"),
            ),
            Line("  Recent log", "title"),
        ]
        room = max(1, height - len(out) - 1)
        for rec in (logs.get("lines") or [])[-room:]:
            ts = time.strftime("%H:%M:%S", time.localtime(float(rec.get("ts") or 0)))
            level = str(rec.get("level"))
            style = "error" if level == "error" else ("warn" if level == "warning" else "dim")
            out.append(Line(f"  {ts} {level[:4]:<4} {rec.get('message', '')}"[: width - 1], style))
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
        elif key in ("r", "R", "F5"):
            self.load(app)


class PowerScreen(Screen):
    title = "Power (F10)"
    hint = "R: reboot  S: shut down  Esc: back"

    def __init__(self) -> None:
        self.action: str | None = None
        self.evacuate: bool | None = None
        self.result = ""
        self.style = "ok"

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        s = app.snap
        out = [Line(), Line("  [R] Reboot this host    [S] Shut down this host"), Line()]
        if self.action:
            out.append(Line(f"  You chose: {self.action.upper()}", "warn"))
            if s.vms_here and self.evacuate is None:
                out += [
                    Line(f"  {s.vms_running_here} VM(s) run here ({s.vms_here} placed)."),
                    Line("  [E] Evacuate them first (maintenance + migrate)   [N] No"),
                ]
            else:
                if self.evacuate:
                    out.append(Line("  VMs will be moved away first.", "dim"))
                out.append(Line(f"  Press Y to {self.action} now, Esc to cancel.", "warn"))
        if self.result:
            out.append(Line("  " + self.result, self.style))
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
        elif key in ("r", "R"):
            self.action, self.evacuate, self.result = "reboot", None, ""
        elif key in ("s", "S"):
            self.action, self.evacuate, self.result = "shutdown", None, ""
        elif key in ("e", "E") and self.action:
            self.evacuate = True
        elif key in ("n", "N") and self.action:
            self.evacuate = False
        elif (
            key in ("y", "Y")
            and self.action
            and (self.evacuate is not None or not app.snap.vms_here)
        ):
            self._go(app)

    def _go(self, app: AppView) -> None:
        assert self.action is not None
        try:
            if self.evacuate:
                evacuate(app)
            res = app.api("POST", "/host/power", {"action": self.action})
        except ApiRefused as e:
            self.result, self.style = e.message, "error"
            return
        if res.get("how") == "recorded":
            self.result = f"{self.action} recorded (lab/test host: the machine is not touched)"
        else:
            self.result = f"{self.action} in progress..."
        self.action = None


def evacuate(app: AppView) -> None:
    """Maintenance on (no new placements), then ask to migrate every VM here."""
    node_id = app.snap.peer.get("node_id")
    app.api("PATCH", f"/nodes/{node_id}", {"maintenance": True})
    vms = app.api("GET", f"/vms?node={node_id}&limit=1000").get("items") or []
    for vm in vms:
        try:
            app.api("POST", f"/vms/{vm['id']}/migrate", {})
        except ApiRefused:
            continue  # a stopped VM needs no migration


class ShellScreen(Screen):
    title = "Emergency shell (F12)"
    hint = "Enter: open the shell  Esc: back"

    def __init__(self) -> None:
        self.result = ""

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        out = [
            Line(),
            Line("  Break-glass root shell on this host.", "warn"),
            Line("  Opening and closing it is logged and audited. Type 'exit' to come back."),
        ]
        if self.result:
            out += [Line(), Line("  " + self.result, "dim")]
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
        elif key == "ENTER":
            app.api("POST", "/host/shell", {"event": "opened"})
            shell = (
                "/bin/bash" if os.path.exists("/bin/bash") else (shutil.which("sh") or "/bin/sh")
            )
            rc = app.run_external(
                [shell, "--norc"] if shell.endswith("bash") else [shell],
                "Quantix emergency shell (logged). Type 'exit' to return to the console.",
            )
            app.api("POST", "/host/shell", {"event": "closed"})
            self.result = f"Shell closed (exit status {rc})."
