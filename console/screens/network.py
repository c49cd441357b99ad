"""F2: the management network, applied through the peer with a confirmation window."""

from __future__ import annotations

from typing import Any

from console import fmt
from console.errors import ApiRefused
from console.screens.base import AppView, Screen, remaining
from console.ui import Field, Form, Line, kv


def network_body(form: Form, confirm_s: int) -> dict[str, Any]:
    """The POST /host/network body from the form's fields."""
    body: dict[str, Any] = {"mode": form["mode"], "confirm_s": confirm_s}
    if form["interface"]:
        body["interface"] = form["interface"]
    if form["mode"] == "static":
        body["address"] = form["address"]
        if form["gateway"]:
            body["gateway"] = form["gateway"]
    dns = [d.strip() for d in form["dns"].replace(",", " ").split() if d.strip()]
    if dns:
        body["dns"] = dns
    if form["vlan"]:
        body["vlan"] = int(form["vlan"]) if form["vlan"].isdigit() else -1
    return body


def uplink_lines(vnet: dict[str, Any] | None) -> list[Line]:
    """The VM networks' uplink (GET /peer ``network``): the data interface OVS holds
    in br-phy, the tunnel address, and where OVN's central databases are."""
    if not vnet:
        return [Line(), Line("  VM networks: no data interface (bridge networks only)", "dim")]
    daemons = vnet.get("daemons") or {}
    down = sorted(n for n, pid in daemons.items() if not pid)
    return [
        Line(),
        Line("  VM networks (OVN)", "title"),
        kv("Uplink", f"{vnet.get('uplink') or '-'} in br-phy"),
        kv("Tunnel address", vnet.get("encap_ip") or "-"),
        kv(
            "Central databases",
            "on this host" if vnet.get("central") else (vnet.get("sb_remote") or "not placed yet"),
        ),
        kv(
            "Daemons",
            "all running" if not down else f"not running: {', '.join(down)}",
            "ok" if not down else "warn",
        ),
    ]


class NetworkScreen(Screen):
    title = "Network (F2)"
    hint = "Up/Down: field  Left/Right: choice  Enter: next / apply  Esc: back"

    def __init__(self) -> None:
        self.form: Form | None = None
        self.error = ""

    def _make_form(self, app: AppView) -> Form:
        net = app.snap.host.get("network") or {}
        addrs = net.get("addresses") or []
        conf = net.get("configured") or {}
        return Form(
            [
                Field("mode", "Mode", "static", choices=["static", "dhcp"]),
                Field("interface", "Interface", str(net.get("interface") or "")),
                Field(
                    "address",
                    "Address/prefix",
                    addrs[0] if addrs else "",
                    help="e.g. 192.168.1.10/24",
                ),
                Field("gateway", "Gateway", str(net.get("gateway") or "")),
                Field(
                    "dns", "DNS servers", " ".join(conf.get("dns") or []), help="space separated"
                ),
                Field("vlan", "VLAN", str(conf.get("vlan") or ""), help="empty: none"),
                Field("apply", "Apply", "press Enter"),
            ]
        )

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        if self.form is None:
            self.form = self._make_form(app)
        net = app.snap.host.get("network") or {}
        out = [
            Line(),
            Line("  Current", "title"),
            kv(
                "Interface",
                f"{net.get('interface') or '-'} ({net.get('state', '-')}, {net.get('mac') or '-'})",
            ),
            kv("Addresses", ", ".join(net.get("addresses") or []) or "-"),
            kv("Gateway", net.get("gateway") or "-"),
            *uplink_lines(app.snap.peer.get("network")),
            Line(),
            Line("  New settings", "title"),
            *self.form.lines(),
            Line(),
            Line(
                f"  Applied at once; unless you confirm within {app.options.confirm_s} s, "
                "the peer puts the old settings back.",
                "dim",
            ),
        ]
        if self.error:
            out.append(Line("  " + self.error, "error"))
        return out

    def on_key(self, app: AppView, key: str) -> None:
        if key == "ESC":
            app.pop()
            return
        if self.form is None or not self.form.key(key):
            return
        try:
            app.api("POST", "/host/network", network_body(self.form, app.options.confirm_s))
        except ApiRefused as e:
            self.error = e.message
            return
        app.refresh()
        app.replace(ConfirmNetworkScreen())


class ConfirmNetworkScreen(Screen):
    title = "Keep these network settings?"
    hint = "Enter/K: keep   Esc/R: put the previous settings back"

    def __init__(self) -> None:
        self.outcome = ""
        self.outcome_style = "ok"

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        net = app.snap.host.get("network") or {}
        pending = net.get("pending")
        if self.outcome:
            self.title, self.hint = "Network (F2)", "Esc/Enter: back to the main screen"
            return [
                Line(),
                Line("  " + self.outcome, self.outcome_style),
                Line(),
                kv("Addresses", ", ".join(net.get("addresses") or []) or "-"),
                Line("  Esc: back", "dim"),
            ]
        if not pending:
            self.outcome = "Not confirmed in time: the previous settings are back."
            self.outcome_style = "warn"
            return self.render(app, width, height)
        st = pending.get("settings") or {}
        return [
            Line(),
            Line("  The new settings are applied:", "title"),
            kv("Mode", st.get("mode")),
            kv(
                "Interface",
                str(st.get("interface")) + (f" VLAN {st['vlan']}" if st.get("vlan") else ""),
            ),
            kv("Address", st.get("address") or "(DHCP)"),
            kv("Gateway", st.get("gateway") or "-"),
            kv("DNS", ", ".join(st.get("dns") or []) or "-"),
            kv("Now on link", ", ".join(net.get("addresses") or []) or "-"),
            Line(),
            Line(
                f"  Rolling back in {fmt.mmss(remaining(app, pending.get('remaining_s')))}"
                " unless you keep them (Enter).",
                "warn",
            ),
        ]

    def on_key(self, app: AppView, key: str) -> None:
        if self.outcome:
            if key in ("ESC", "ENTER"):
                app.home()
            return
        try:
            if key in ("ENTER", "k", "K"):
                app.api("POST", "/host/network/confirm")
                self.outcome = "Network settings kept."
            elif key in ("ESC", "r", "R"):
                app.api("POST", "/host/network/revert")
                self.outcome, self.outcome_style = "Previous settings restored.", "warn"
        except ApiRefused as e:
            self.outcome, self.outcome_style = e.message, "error"
        app.refresh()
