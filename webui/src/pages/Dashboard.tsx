import { Link } from "react-router";
import { AlertTriangle, Boxes, Crown, Server, ShieldCheck } from "lucide-react";
import { useCluster, useEvents, useNodes, useVms } from "../api/queries";
import type { Cluster, NodeRec, QxEvent, Vm } from "../api/types";
import { ago, mib, pct } from "../lib/format";
import { countByState } from "../lib/vmfilter";
import { memUsed } from "../lib/hosts";
import { Card, Empty, ErrorState, Meter, PageHeader, Skeleton, StateBadge, cx } from "../components/ui";

function Stat({ label, value, sub, icon: Icon, tone }: { label: string; value: React.ReactNode; sub?: React.ReactNode; icon: typeof Server; tone?: string }) {
  return (
    <div className="rounded-xl border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900">
      <div className="flex items-center justify-between text-zinc-500">
        <span className="text-xs font-medium uppercase tracking-wide">{label}</span>
        <Icon className={cx("size-4", tone)} aria-hidden />
      </div>
      <div className="mt-2 text-2xl font-semibold tracking-tight">{value}</div>
      {sub && <div className="mt-0.5 text-xs text-zinc-500">{sub}</div>}
    </div>
  );
}

export interface Alarm {
  level: "error" | "warning";
  text: string;
  to?: string;
}

/** What deserves attention, derived from the state (the API has no alarms resource). */
export function alarms(c: Cluster | undefined, nodes: NodeRec[], vms: Vm[]): Alarm[] {
  const out: Alarm[] = [];
  if (c && !c.health.has_quorum) out.push({ level: "error", text: "The cluster has no quorum: changes cannot be committed." });
  for (const m of c?.members ?? []) {
    if (m.state !== "removed" && m.lease_age_s !== null && m.lease_age_s > 15)
      out.push({ level: "error", text: `${m.hostname ?? m.node_id} has not renewed its lease for ${Math.round(m.lease_age_s)} s`, to: `/hosts/${m.node_id}` });
  }
  for (const n of nodes) if (n.state === "maintenance") out.push({ level: "warning", text: `${n.hostname ?? n.id} is in maintenance`, to: `/hosts/${n.id}` });
  for (const v of vms)
    if (v.status?.state === "error") out.push({ level: "error", text: `${v.name}: ${v.status.error ?? v.status.reason ?? "error"}`, to: `/vms/${v.id}` });
  return out;
}

export function EventRow({ ev }: { ev: QxEvent }) {
  const nodes = useNodes();
  const host = ev.node ? (nodes.data?.find((n) => n.id === ev.node)?.hostname ?? ev.node) : null;
  return (
    <li className="flex items-start gap-3 py-2">
      <span className={cx("mt-1.5 size-1.5 shrink-0 rounded-full", ev.level === "error" ? "bg-red-500" : ev.level === "warning" ? "bg-amber-500" : "bg-zinc-300 dark:bg-zinc-600")} aria-hidden />
      <div className="min-w-0 flex-1">
        <p className="truncate">{ev.message}</p>
        <p className="text-xs text-zinc-500">
          {ev.kind}
          {ev.user ? ` · ${ev.user}` : ""}
          {host ? ` · ${host}` : ""}
        </p>
      </div>
      <time className="shrink-0 text-xs text-zinc-500">{ago(ev.ts)}</time>
    </li>
  );
}

export function Dashboard() {
  const cluster = useCluster();
  const nodes = useNodes();
  const vms = useVms();
  const events = useEvents();
  const c = cluster.data;
  const counts = countByState(vms.data ?? []);
  const al = alarms(c, nodes.data ?? [], vms.data ?? []);
  const leader = c?.members.find((m) => m.leader);
  return (
    <div className="space-y-5">
      <PageHeader title="Dashboard" subtitle={c ? `Cluster ${c.name ?? ""} · term ${c.term ?? "—"} · revision ${c.revision}` : "Cluster overview"} />
      {cluster.error ? (
        <Card>
          <ErrorState error={cluster.error} retry={() => void cluster.refetch()} />
        </Card>
      ) : (
        <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
          {c ? (
            <>
              <Stat label="Health" icon={ShieldCheck} tone={c.health.status === "healthy" ? "text-emerald-500" : "text-amber-500"} value={<StateBadge state={c.health.status} />} sub={c.health.has_quorum ? "quorum held" : "no quorum"} />
              <Stat label="Leader" icon={Crown} tone="text-amber-500" value={<span className="text-lg">{leader?.hostname ?? c.leader ?? "none"}</span>} sub={leader?.address ?? "electing…"} />
              <Stat label="Hosts" icon={Server} value={`${c.health.nodes_active}/${c.health.nodes_total}`} sub="active / total" />
              <Stat label="VMs" icon={Boxes} value={`${c.health.vms_running}/${c.health.vms_total}`} sub={`running / total${c.health.vms_error ? ` · ${c.health.vms_error} in error` : ""}`} />
            </>
          ) : (
            [0, 1, 2, 3].map((i) => <Skeleton key={i} className="h-[104px]" />)
          )}
        </div>
      )}
      <div className="grid gap-5 lg:grid-cols-3">
        <Card title="Hosts" className="lg:col-span-2" actions={<Link to="/hosts" className="text-xs text-indigo-600 hover:underline dark:text-indigo-400">All hosts</Link>}>
          {nodes.isPending ? (
            <Skeleton className="h-24" />
          ) : nodes.error ? (
            <ErrorState error={nodes.error} retry={() => void nodes.refetch()} />
          ) : !nodes.data?.length ? (
            <Empty title="No hosts yet" hint="Hosts appear here once they have joined the cluster." />
          ) : (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800" aria-label="Hosts">
              {nodes.data.map((n) => {
                const r = n.resources ?? {};
                const used = memUsed(n);
                const member = c?.members.find((m) => m.node_id === n.id);
                return (
                  <li key={n.id} className="grid grid-cols-[1fr_auto] items-center gap-x-4 gap-y-1 py-2.5 sm:grid-cols-[minmax(0,1.3fr)_1fr_1fr]">
                    <Link to={`/hosts/${n.id}`} className="flex min-w-0 items-center gap-2 font-medium hover:underline">
                      <span className="truncate">{n.hostname ?? n.id}</span>
                      {member?.leader && <Crown className="size-3.5 text-amber-500" aria-label="leader" />}
                      <StateBadge state={n.state} />
                    </Link>
                    <span className="text-right text-xs text-zinc-500 sm:text-left">{r.cpus ?? "—"} vCPU{r.accel ? ` · ${r.accel}` : ""}</span>
                    <div className="col-span-2 sm:col-span-1">
                      {used === null ? (
                        <div className="text-xs text-zinc-500" title="This host's record does not carry its free memory">
                          {mib(r.memory_mib)} memory · use not reported
                        </div>
                      ) : (
                        <>
                          <div className="mb-1 flex justify-between gap-2 text-xs text-zinc-500">
                            <span>Memory</span>
                            <span>
                              {mib(used)} / {mib(r.memory_mib)}
                            </span>
                          </div>
                          <Meter value={pct(used, r.memory_mib ?? 0)} label={`${n.hostname} memory used`} />
                        </>
                      )}
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
        </Card>
        <Card title="Virtual machines" actions={<Link to="/vms" className="text-xs text-indigo-600 hover:underline dark:text-indigo-400">All VMs</Link>}>
          {vms.isPending ? (
            <Skeleton className="h-24" />
          ) : vms.error ? (
            <ErrorState error={vms.error} retry={() => void vms.refetch()} />
          ) : !vms.data?.length ? (
            <Empty title="No VMs yet" action={<Link to="/vms/new" className="text-indigo-600 hover:underline dark:text-indigo-400">Create one</Link>} />
          ) : (
            <ul className="space-y-2" aria-label="VMs by state" data-testid="vm-counts">
              {Object.entries(counts)
                .sort((a, b) => b[1] - a[1])
                .map(([s, n]) => (
                  <li key={s} className="flex items-center justify-between">
                    <Link to={`/vms?state=${s}`} className="hover:underline">
                      <StateBadge state={s} />
                    </Link>
                    <span className="font-medium tabular-nums">{n}</span>
                  </li>
                ))}
            </ul>
          )}
        </Card>
      </div>
      <div className="grid gap-5 lg:grid-cols-3">
        <Card title={`Alarms${al.length ? ` (${al.length})` : ""}`}>
          {al.length === 0 ? (
            <p className="flex items-center gap-2 text-zinc-500">
              <ShieldCheck className="size-4 text-emerald-500" /> Nothing needs attention.
            </p>
          ) : (
            <ul className="space-y-2">
              {al.slice(0, 8).map((a, i) => (
                <li key={i} className="flex items-start gap-2">
                  <AlertTriangle className={cx("mt-0.5 size-4 shrink-0", a.level === "error" ? "text-red-500" : "text-amber-500")} aria-hidden />
                  {a.to ? (
                    <Link to={a.to} className="hover:underline">
                      {a.text}
                    </Link>
                  ) : (
                    <span>{a.text}</span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Recent events" className="lg:col-span-2" actions={<Link to="/events" className="text-xs text-indigo-600 hover:underline dark:text-indigo-400">All events</Link>}>
          {events.isPending ? (
            <Skeleton className="h-24" />
          ) : events.error ? (
            <ErrorState error={events.error} retry={() => void events.refetch()} />
          ) : !events.data?.length ? (
            <Empty title="No events yet" />
          ) : (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {events.data.slice(0, 8).map((ev) => (
                <EventRow key={ev.id} ev={ev} />
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
