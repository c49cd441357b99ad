"""First boot: hostname, admin password, network, SSH and cluster, in four steps."""

from __future__ import annotations

from typing import Any

from console.errors import ApiRefused
from console.screens.base import AppView, Screen
from console.screens.network import ConfirmNetworkScreen
from console.ui import Field, Form, Line

SSH_CHOICES = ["off", "15", "30", "60", "120"]
CLUSTER_CHOICES = ["create or join", "later"]


class WizardScreen(Screen):
    title = "First-boot setup"
    hint = "Up/Down: field  Left/Right: choice  Enter: next  Esc: previous step"

    def __init__(self, app: AppView) -> None:
        net = app.snap.host.get("network") or {}
        addrs = net.get("addresses") or []
        self.steps: list[tuple[str, Form]] = [
            (
                "1/4 Host name",
                Form([Field("hostname", "Host name", str(app.snap.peer.get("hostname") or ""))]),
            ),
            (
                "2/4 Admin account (user 'admin')",
                Form(
                    [
                        Field("password", "Password", secret=True, help="8+ characters"),
                        Field("confirm", "Confirm password", secret=True),
                    ]
                ),
            ),
            (
                "3/4 Management network",
                Form(
                    [
                        Field("mode", "Network", "keep", choices=["keep", "static"]),
                        Field("address", "Address/prefix", addrs[0] if addrs else ""),
                        Field("gateway", "Gateway", str(net.get("gateway") or "")),
                        Field("dns", "DNS servers", ""),
                    ]
                ),
            ),
            (
                "4/4 SSH and cluster",
                Form(
                    [
                        Field("ssh", "SSH minutes", "off", choices=SSH_CHOICES),
                        Field("cluster", "Cluster", "create or join", choices=CLUSTER_CHOICES),
                        Field("name", "Cluster name", ""),
                        Field("secret", "Cluster secret", secret=True, help="12+ characters"),
                    ]
                ),
            ),
        ]
        self.step = 0
        self.error = ""
        self.done: list[str] = []

    def form(self) -> Form:
        return self.steps[self.step][1]

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        if self.done:
            return [
                Line(),
                *[Line("  " + d, "ok") for d in self.done],
                Line(),
                Line("  Enter: continue", "dim"),
            ]
        title, form = self.steps[self.step]
        out = [
            Line(),
            Line("  Welcome to Quantix. This host has no administrator yet.", "title"),
            Line(),
            Line("  " + title, "title"),
            *form.lines(),
        ]
        if self.step == 3:
            out += [
                Line(),
                Line(
                    "  'create or join': the host joins the cluster of that name on the network,",
                    "dim",
                ),
                Line("  or founds it; a new cluster's admin gets the password above.", "dim"),
            ]
        if self.error:
            out += [Line(), Line("  " + self.error, "error")]
        return out

    def _check(self) -> str:
        f = self.form()
        if self.step == 0 and not f["hostname"]:
            return "Enter a host name."
        if self.step == 1:
            if len(f["password"]) < 8:
                return "The password needs at least 8 characters."
            if f["password"] != f["confirm"]:
                return "The passwords differ."
        if self.step == 3 and f["cluster"] != "later" and (not f["name"] or len(f["secret"]) < 12):
            return "Enter the cluster name and a secret of 12+ characters (or choose 'later')."
        return ""

    def on_key(self, app: AppView, key: str) -> None:
        if self.done:
            if key in ("ENTER", "ESC"):
                app.home()
                if self.network_pending:
                    app.push(ConfirmNetworkScreen())
            return
        if key == "ESC":
            if self.step == 0:
                app.pop()
            else:
                self.step -= 1
            return
        if not self.form().key(key):
            return
        self.error = self._check()
        if self.error:
            return
        if self.step < len(self.steps) - 1:
            self.step += 1
            return
        self.finish(app)

    network_pending = False

    def finish(self, app: AppView) -> None:
        ident, admin, net, last = (f for _, f in self.steps)
        body: dict[str, Any] = {"hostname": ident["hostname"], "password": admin["password"]}
        if last["cluster"] != "later":
            body["cluster"] = {"name": last["name"], "secret": last["secret"]}
        try:
            app.api("POST", "/host/setup", body)
            self.done.append(f"Host name {ident['hostname']}, admin password set.")
            if last["ssh"] != "off":
                app.api("POST", "/host/ssh", {"action": "enable", "minutes": int(last["ssh"])})
                self.done.append(f"SSH enabled for {last['ssh']} minutes.")
            if net["mode"] == "static":
                nb: dict[str, Any] = {
                    "mode": "static",
                    "address": net["address"],
                    "confirm_s": app.options.confirm_s,
                }
                if net["gateway"]:
                    nb["gateway"] = net["gateway"]
                dns = net["dns"].replace(",", " ").split()
                if dns:
                    nb["dns"] = dns
                app.api("POST", "/host/network", nb)
                self.network_pending = True
                self.done.append("Network applied: confirm it on the next screen.")
        except ApiRefused as e:
            self.error = e.message
            return
        if "cluster" in body:
            self.done.append(f"Joining or founding cluster {last['name']!r}; log in as 'admin'.")
        else:
            self.done.append("The host waits to be adopted into a cluster (F4 to join one).")
        app.set_authenticated("admin")
        app.refresh()
