"""F4: the cluster: members and leader; join (factory host) or leave."""

from __future__ import annotations

from console import fmt
from console.errors import ApiRefused
from console.screens.base import AppView, Screen
from console.ui import Field, Form, Line, kv


class ClusterScreen(Screen):
    title = "Cluster (F4)"
    hint = "J: join a cluster  L: leave the cluster  Esc: back"

    def __init__(self) -> None:
        self.error = ""

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        s = app.snap
        c, p = s.cluster, s.peer
        out = [
            Line(),
            kv("Cluster", c.get("name") or "(none: this host is in factory state)"),
            kv("This host", f"{p.get('hostname', '-')} - {fmt.host_role(p, s.node)}"),
            kv("Health", (c.get("health") or {}).get("status", "-")),
            Line(),
            Line(f"  {'HOST':<16} {'ADDRESS':<16} {'STATE':<12} {'ROLE':<8} LEASE", "title"),
        ]
        for m in c.get("members") or []:
            role = "leader" if m.get("leader") else ("voter" if m.get("voter") else "replica")
            age = m.get("lease_age_s")
            name = fmt.clip(str(m.get("hostname") or m.get("node_id") or "-"), 16)
            addr, state = str(m.get("address") or "-"), str(m.get("state") or "-")
            out.append(
                Line(
                    f"  {name:<16} {addr:<16} {state:<12} {role:<8} "
                    f"{'-' if age is None else f'{float(age):.1f} s'}",
                    "ok" if m.get("state") == "active" else "warn",
                )
            )
        if not c.get("members"):
            out.append(Line("  (no members)", "dim"))
        if self.error:
            out += [Line(), Line("  " + self.error, "error")]
        return out

    def on_key(self, app: AppView, key: str) -> None:
        role = (app.snap.peer.get("raft") or {}).get("role")
        if key == "ESC":
            app.pop()
        elif key in ("j", "J"):
            if role != "factory":
                self.error = "This host already belongs to a cluster: leave it first (L)."
                return
            app.require_auth("cluster membership", JoinScreen)
        elif key in ("l", "L"):
            if role in ("factory", None):
                self.error = "This host is not in a cluster."
                return
            app.require_auth("cluster membership", LeaveScreen)


class JoinScreen(Screen):
    title = "Join a cluster"
    hint = "Enter: next / join   Esc: cancel"

    def __init__(self) -> None:
        self.form = Form(
            [
                Field("name", "Cluster name"),
                Field("secret", "Cluster secret", secret=True, help="12+ characters"),
            ]
        )
        self.error = ""

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        out = [
            Line(),
            Line("  The host joins the cluster of that name it finds on the network"),
            Line("  (or founds it, if no host of that name answers).", "dim"),
            Line(),
            *self.form.lines(),
        ]
        if self.error:
            out += [Line(), Line("  " + self.error, "error")]
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
            return
        if not self.form.key(key):
            return
        try:
            app.api(
                "POST",
                "/host/join",
                {"cluster_name": self.form["name"], "secret": self.form["secret"]},
            )
        except ApiRefused as e:
            self.error = e.message
            return
        app.say(f"Joining cluster {self.form['name']!r}...", "ok")
        app.refresh()
        app.home()


class LeaveScreen(Screen):
    title = "Leave the cluster"
    hint = "Y: leave   Esc: cancel"

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        s = app.snap
        out = [Line(), Line(f"  Remove this host from cluster {s.cluster.get('name')!r}?", "warn")]
        if s.vms_here:
            out += [
                Line(),
                Line(
                    f"  WARNING: {s.vms_here} VM(s) are placed on this host "
                    f"({s.vms_running_here} running).",
                    "error",
                ),
                Line("  They are moved to other hosts first; the host leaves once none is left."),
            ]
        out += [
            Line(),
            Line("  The host then returns to factory state (its VMs' data stays on the"),
            Line("  cluster's other hosts; this host's cluster data is erased)."),
            Line(),
            Line("  Press Y to leave, Esc to cancel."),
        ]
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
        elif key in ("y", "Y"):
            node_id = app.snap.peer.get("node_id")
            try:
                app.api("POST", f"/nodes/{node_id}/leave")
                app.say("Leaving the cluster: VMs are moving off; then factory state.", "warn")
            except ApiRefused as e:
                app.say(e.message, "error")
            app.refresh()
            app.home()
