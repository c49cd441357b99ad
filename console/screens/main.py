"""The main screen: who this host is and how it is doing; F-keys lead elsewhere."""

from __future__ import annotations

from console import fmt
from console.screens.base import AppView, Screen, remaining
from console.ui import Line, kv

MENU = [
    "F2 Network   F3 SSH        F4 Cluster   F5 Refresh",
    "F6 Services  F7 Diagnostics  F10 Power  F12 Shell",
]


class MainScreen(Screen):
    title = "Host console"
    hint = "  ".join(MENU)

    def render(self, app: AppView, width: int, height: int) -> list[Line]:
        s = app.snap
        if s.error:
            return [
                Line(),
                Line("  The local peer does not answer:", "error"),
                Line("  " + fmt.clip(s.error, width - 4), "error"),
                Line(),
                Line("  Retrying every few seconds. F7 shows diagnostics when it is back.", "dim"),
            ]
        if not s.ok:
            return [Line(), Line("  Connecting to the local peer...", "dim")]
        p, c, h, host = s.peer, s.cluster, s.health, s.host
        out = [Line()]
        if host.get("setup_required"):
            out.append(Line("  First boot: press Enter to set up this host.", "warn"))
            out.append(Line())
        if p.get("pairing_code"):
            # Factory state: an admin adopts this host from the cluster's UI or
            # CLI with this code; it proves they can see this screen.
            out.append(kv("Pairing code", str(p["pairing_code"]), "warn"))
            out.append(Line("  Give it to the cluster's admin to adopt this host.", "dim"))
            out.append(Line())
        api_port = p.get("api_port", 8443)
        health = (c.get("health") or {}).get("status") or h.get("status") or "-"
        hstyle = "ok" if health in ("healthy", "ok") else "warn"
        members = c.get("members") or []
        leader = next((m for m in members if m.get("leader")), None)
        mem = host.get("memory") or {}
        mem_pct = 100.0 * mem["used_mib"] / mem["total_mib"] if mem.get("total_mib") else None
        cpu = host.get("cpu_percent")
        ssh = host.get("ssh") or {}
        out += [
            kv("Version", p.get("version", "-")),
            kv("Hostname", p.get("hostname", "-")),
            kv("Cluster", c.get("name") or p.get("cluster_name") or "(none: factory state)"),
            kv("Role", fmt.host_role(p, s.node)),
            kv(
                "Leader",
                f"{leader['hostname']} ({leader['address']})" if leader else "-",
            ),
            kv("Cluster health", f"{health}  ({_hosts(len(members))})", hstyle),
            kv(
                "Management IP",
                f"{p.get('address', '-')}  on {host.get('network', {}).get('interface') or '-'}",
            ),
            kv("Management URL", f"https://{p.get('address', '-')}:{api_port}/"),
            Line(),
            kv("CPU", f"{fmt.bar(cpu)} {'-' if cpu is None else f'{cpu:.0f}%'}"),
            kv(
                "Memory",
                f"{fmt.bar(mem_pct)} {'-' if mem_pct is None else f'{mem_pct:.0f}%'}"
                f" ({fmt.gib(mem.get('used_mib'))} / {fmt.gib(mem.get('total_mib'))})",
            ),
            kv("VMs", f"{s.vms_running_here} running on this host ({s.vms_here} placed here)"),
            kv(
                "Uptime",
                f"host {fmt.uptime(host.get('uptime_s'))}, peer {fmt.uptime(p.get('uptime_s'))}",
            ),
        ]
        if ssh.get("enabled"):
            left = remaining(app, ssh.get("remaining_s"))
            txt = (
                "ENABLED permanently"
                if ssh.get("mode") == "permanent"
                else (f"ENABLED, turns off in {fmt.mmss(left)}")
            )
            out.append(kv("SSH", txt, "warn"))
        else:
            out.append(kv("SSH", "disabled", "dim"))
        console = host.get("console") or {}
        if console.get("locked"):
            out.append(
                kv(
                    "Console",
                    f"LOCKED for {fmt.mmss(remaining(app, console.get('remaining_s')))}",
                    "error",
                )
            )
        net = host.get("network") or {}
        if net.get("pending"):
            out.append(kv("Network", "change waiting for confirmation (F2)", "warn"))
        if host.get("mode") == "record":
            out.append(
                Line("  Lab/test host: power, service and sshd actions are recorded only.", "dim")
            )
        return out

    def on_key(self, app: AppView, key: str) -> None:
        from console.screens import cluster, network, ssh, system, wizard

        host = app.snap.host
        if key == "ENTER" and host.get("setup_required"):
            app.push(wizard.WizardScreen(app))
        elif key == "F2":
            app.require_auth("network settings", network.NetworkScreen)
        elif key == "F3":
            app.require_auth("SSH", ssh.SshScreen)
        elif key == "F4":
            app.push(cluster.ClusterScreen())
        elif key == "F5":
            app.refresh()
            app.say("Refreshed.")
        elif key == "F6":
            app.require_auth("service restarts", system.ServicesScreen)
        elif key == "F7":
            app.push(system.DiagnosticsScreen(app))
        elif key == "F10":
            app.require_auth("power", system.PowerScreen)
        elif key == "F12":
            app.require_auth("the emergency shell", system.ShellScreen)


def _hosts(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"
