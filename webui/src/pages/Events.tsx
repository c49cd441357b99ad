import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { loadAuth } from "../api/auth";
import { useAudit, useEvents, useNodes } from "../api/queries";
import type { QxEvent } from "../api/types";
import { when } from "../lib/format";
import { Badge, Card, Empty, Loadable, PageHeader, Table, cx, inputBase, td, th } from "../components/ui";

export default function Events() {
  const admin = loadAuth()?.role === "admin";
  const [tab, setTab] = useState<"events" | "audit">("events");
  const [level, setLevel] = useState("");
  const [q, setQ] = useState("");
  const events = useEvents({ level: level || undefined });
  const audit = useAudit(admin && tab === "audit");
  // Events seen on the live stream since this page opened (newest first).
  const live = useQuery<QxEvent[]>({ queryKey: ["live-events"], queryFn: () => [], staleTime: Infinity, initialData: [] });
  const nodes = useNodes();
  const hostName = (id: string | null | undefined) => (id ? (nodes.data?.find((n) => n.id === id)?.hostname ?? id) : "—");
  const match = (s: string) => !q || s.toLowerCase().includes(q.toLowerCase());
  return (
    <div className="space-y-4">
      <PageHeader title="Events & audit" subtitle={`${live.data.length} events received live since this page opened.`} />
      <div className="flex flex-wrap items-center gap-2">
        <div role="tablist" className="inline-flex rounded-lg border border-zinc-200 p-0.5 dark:border-zinc-800">
          {(["events", ...(admin ? ["audit"] : [])] as const).map((t) => (
            <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t as "events" | "audit")} className={cx("rounded-md px-3 py-1 text-[13px] font-medium capitalize", tab === t ? "bg-zinc-900 text-white dark:bg-white dark:text-zinc-900" : "text-zinc-500")}>
              {t === "audit" ? "Audit log" : "Events"}
            </button>
          ))}
        </div>
        <input className={cx(inputBase, "w-full max-w-xs")} placeholder="Filter" aria-label="Filter" value={q} onChange={(e) => setQ(e.target.value)} />
        {tab === "events" && (
          <select className={cx(inputBase, "w-auto")} aria-label="Level" value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">All levels</option>
            <option value="info">info</option>
            <option value="warning">warning</option>
            <option value="error">error</option>
          </select>
        )}
      </div>
      <Card>
        {tab === "events" ? (
          <Loadable q={events} empty={(d) => (d.length ? null : <Empty title="No events" />)}>
            {(list) => (
              <Table label="Events">
                <thead>
                  <tr>
                    <th className={th}>Time</th>
                    <th className={th}>Level</th>
                    <th className={th}>Kind</th>
                    <th className={th}>Message</th>
                    <th className={th}>User</th>
                    <th className={th}>Host</th>
                  </tr>
                </thead>
                <tbody>
                  {list
                    .filter((e) => match(`${e.kind} ${e.message} ${e.user ?? ""} ${e.node ?? ""}`))
                    .map((e) => (
                      <tr key={e.id}>
                        <td className={`${td} whitespace-nowrap text-xs text-zinc-500`}>{when(e.ts)}</td>
                        <td className={td}>
                          <Badge tone={e.level === "error" ? "red" : e.level === "warning" ? "amber" : "gray"}>{e.level ?? "info"}</Badge>
                        </td>
                        <td className={`${td} font-mono text-xs`}>{e.kind}</td>
                        <td className={td}>{e.message}</td>
                        <td className={td}>{e.user ?? "—"}</td>
                        <td className={td}>{hostName(e.node)}</td>
                      </tr>
                    ))}
                </tbody>
              </Table>
            )}
          </Loadable>
        ) : (
          <Loadable q={audit} empty={(d) => (d.length ? null : <Empty title="No audit records" />)}>
            {(list) => (
              <Table label="Audit log">
                <thead>
                  <tr>
                    <th className={th}>Time</th>
                    <th className={th}>User</th>
                    <th className={th}>Action</th>
                    <th className={th}>Result</th>
                    <th className={th}>From</th>
                  </tr>
                </thead>
                <tbody>
                  {list
                    .filter((a) => match(`${a.user ?? ""} ${a.action ?? ""} ${a.result ?? ""}`))
                    .map((a) => (
                      <tr key={a.id}>
                        <td className={`${td} whitespace-nowrap text-xs text-zinc-500`}>{when(a.ts)}</td>
                        <td className={td}>{a.user}</td>
                        <td className={`${td} font-mono text-xs`}>{a.action}</td>
                        <td className={td}>
                          <Badge tone={a.result === "ok" ? "green" : "red"}>{a.result}</Badge>
                        </td>
                        <td className={`${td} font-mono text-xs`}>{a.remote ?? "—"}</td>
                      </tr>
                    ))}
                </tbody>
              </Table>
            )}
          </Loadable>
        )}
      </Card>
    </div>
  );
}
