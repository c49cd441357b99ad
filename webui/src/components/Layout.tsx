import { useEffect, useState, type ReactNode } from "react";
import { NavLink, useLocation } from "react-router";
import { Activity, Boxes, HardDrive, LayoutDashboard, Network as NetworkIcon, LogOut, Menu, Moon, Server, Settings, Sun, Wifi, WifiOff, X } from "lucide-react";
import { markMovedFrom, useConnection } from "../api/connection";
import { useLiveMode } from "../api/live";
import { useCluster, useNodes } from "../api/queries";
import { logout } from "../api/session";
import type { Auth } from "../api/auth";
import { Badge, cx, stateTone } from "./ui";
import { useTheme } from "./theme";

const NAV = [
  { to: "/", label: "Dashboard", icon: LayoutDashboard, end: true },
  { to: "/hosts", label: "Hosts", icon: Server },
  { to: "/vms", label: "Virtual machines", icon: Boxes },
  { to: "/storage", label: "Storage", icon: HardDrive },
  { to: "/networking", label: "Networking", icon: NetworkIcon },
  { to: "/events", label: "Events & audit", icon: Activity },
  { to: "/settings", label: "Settings", icon: Settings },
];

function ConnectionBanner() {
  const c = useConnection();
  if (c.kind === "online" && c.movedFrom)
    return (
      <div role="status" data-testid="conn-banner" className="flex items-center justify-between gap-3 border-b border-sky-200 bg-sky-50 px-4 py-2 text-sky-800 dark:border-sky-900 dark:bg-sky-950 dark:text-sky-200">
        <span>
          {c.movedFrom} stopped answering: you are now connected through {window.location.host}.
        </span>
        <button onClick={() => markMovedFrom(undefined)} className="rounded p-0.5 hover:bg-sky-100 dark:hover:bg-sky-900" aria-label="Dismiss">
          <X className="size-4" />
        </button>
      </div>
    );
  if (c.kind === "reconnecting")
    return (
      <div role="alert" data-testid="conn-banner" className="border-b border-amber-200 bg-amber-50 px-4 py-2 text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200">
        Lost contact with {window.location.host}. Reconnecting{c.tried.length ? ` — trying ${c.tried[c.tried.length - 1]}` : ""}…
      </div>
    );
  if (c.kind === "moving")
    return (
      <div role="status" data-testid="conn-banner" className="border-b border-sky-200 bg-sky-50 px-4 py-2 text-sky-800 dark:border-sky-900 dark:bg-sky-950 dark:text-sky-200">
        Moving to {c.to}…
      </div>
    );
  return null;
}

function LiveDot() {
  const m = useLiveMode();
  const label = { stream: "Live", polling: "Live (polling)", connecting: "Connecting…", off: "Offline" }[m];
  const on = m === "stream" || m === "polling";
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-zinc-500" aria-label={label} title={m === "polling" ? "After a failover the event stream needs a session on this host; events are followed with a light poll." : undefined} data-testid="live">
      {on ? <Wifi className="size-3.5 text-emerald-500" aria-hidden /> : <WifiOff className="size-3.5 text-amber-500" aria-hidden />}
      <span className="hidden sm:inline">{label}</span>
    </span>
  );
}

export function Layout({ auth, children }: { auth: Auth; children: ReactNode }) {
  const [open, setOpen] = useState(false);
  const loc = useLocation();
  const { theme, toggle } = useTheme();
  const cluster = useCluster();
  useNodes(); // keeps the list of members to fail over to (connection.ts), whatever the page
  useEffect(() => setOpen(false), [loc.pathname]);
  const health = cluster.data?.health.status;
  return (
    <div className="flex min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:z-50 focus:m-2 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <aside
        className={cx(
          "fixed inset-y-0 left-0 z-40 w-60 shrink-0 border-r border-zinc-200 bg-white transition-transform dark:border-zinc-800 dark:bg-zinc-900 md:static md:translate-x-0",
          open ? "translate-x-0" : "-translate-x-full",
        )}
      >
        <div className="flex h-14 items-center justify-between gap-2 px-4">
          <div className="flex items-center gap-2 font-semibold tracking-tight">
            <span className="grid size-7 place-items-center rounded-lg bg-gradient-to-br from-indigo-500 to-violet-600 text-white">Q</span>
            Quantix
          </div>
          <button className="rounded p-1 md:hidden" onClick={() => setOpen(false)} aria-label="Close menu">
            <X className="size-4" />
          </button>
        </div>
        <nav aria-label="Main" className="space-y-0.5 px-2 py-2">
          {NAV.map(({ to, label, icon: Icon, end }) => (
            <NavLink
              key={to}
              to={to}
              end={end}
              className={({ isActive }) =>
                cx(
                  "flex items-center gap-2.5 rounded-md px-2.5 py-1.5 text-[13px] font-medium",
                  isActive
                    ? "bg-zinc-100 text-zinc-900 dark:bg-zinc-800 dark:text-white"
                    : "text-zinc-600 hover:bg-zinc-50 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-800/60 dark:hover:text-zinc-100",
                )
              }
            >
              <Icon className="size-4" aria-hidden />
              {label}
            </NavLink>
          ))}
        </nav>
        <div className="absolute inset-x-0 bottom-0 border-t border-zinc-200 p-3 text-xs text-zinc-500 dark:border-zinc-800">
          <div className="truncate">Connected to {window.location.host}</div>
        </div>
      </aside>
      {open && <div className="fixed inset-0 z-30 bg-zinc-950/30 md:hidden" onClick={() => setOpen(false)} aria-hidden />}
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="sticky top-0 z-20 flex h-14 items-center gap-3 border-b border-zinc-200 bg-white/80 px-4 backdrop-blur dark:border-zinc-800 dark:bg-zinc-950/80">
          <button className="rounded p-1 md:hidden" onClick={() => setOpen(true)} aria-label="Open menu">
            <Menu className="size-5" />
          </button>
          <div className="flex min-w-0 items-center gap-2">
            <span className="truncate font-medium">{cluster.data?.name ?? "Cluster"}</span>
            {health && <Badge tone={stateTone(health)}>{health.replace("_", " ")}</Badge>}
          </div>
          <div className="ml-auto flex items-center gap-3">
            <LiveDot />
            <button onClick={toggle} className="rounded-md p-1.5 text-zinc-500 hover:bg-zinc-100 dark:hover:bg-zinc-800" aria-label={theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}>
              {theme === "dark" ? <Sun className="size-4" /> : <Moon className="size-4" />}
            </button>
            <span className="hidden text-zinc-500 sm:inline" data-testid="whoami">
              {auth.user} · {auth.role}
            </span>
            <button onClick={() => void logout()} className="rounded-md p-1.5 text-zinc-500 hover:bg-zinc-100 dark:hover:bg-zinc-800" aria-label="Log out">
              <LogOut className="size-4" />
            </button>
          </div>
        </header>
        <ConnectionBanner />
        <main id="main" className="mx-auto w-full min-w-0 max-w-7xl flex-1 p-4 md:p-6">
          {children}
        </main>
      </div>
    </div>
  );
}
