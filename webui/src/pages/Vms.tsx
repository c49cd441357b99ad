import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ArrowDown, ArrowUp, Pause, Play, Plus, Power, RotateCcw, Search, Square, Trash2 } from "lucide-react";
import { loadAuth } from "../api/auth";
import { errorText } from "../api/client";
import { deleteVm, useNodes, useVms, vmAction, useWrite, type VmAction } from "../api/queries";
import type { Vm } from "../api/types";
import { mib } from "../lib/format";
import { filterVms, vmHost, vmState, type SortKey, type VmQuery } from "../lib/vmfilter";
import { Button, Card, Empty, ErrorState, Modal, PageHeader, Spinner, StateBadge, Table, cx, inputBase, inputCls, td, th } from "../components/ui";
import { toast } from "../components/toast";

export const ACTIONS: { action: VmAction; label: string; icon: typeof Play; when: (v: Vm) => boolean }[] = [
  { action: "start", label: "Start", icon: Play, when: (v) => vmState(v) !== "running" && vmState(v) !== "paused" },
  { action: "shutdown", label: "Shut down", icon: Power, when: (v) => vmState(v) === "running" },
  { action: "stop", label: "Power off", icon: Square, when: (v) => ["running", "paused", "shutting_down", "error"].includes(vmState(v)) || v.desired === "running" },
  { action: "reboot", label: "Reboot", icon: RotateCcw, when: (v) => vmState(v) === "running" },
  { action: "pause", label: "Pause", icon: Pause, when: (v) => vmState(v) === "running" },
  { action: "resume", label: "Resume", icon: Play, when: (v) => vmState(v) === "paused" },
];

export function useVmActions() {
  return useWrite(async ({ ids, action }: { ids: string[]; action: VmAction }) => {
    const res = await Promise.allSettled(ids.map((id) => vmAction(id, action)));
    const failed = res.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    if (failed.length) throw new Error(`${failed.length} of ${ids.length} failed: ${errorText(failed[0]!.reason)}`);
    return res.length;
  }, [["vms"], ["tasks"], ["cluster"]]);
}

export const PAGE = 100;
const STATES = ["running", "stopped", "paused", "pending", "defining", "shutting_down", "migrating", "error"];

export default function Vms() {
  const vms = useVms();
  const nodes = useNodes();
  const [sp, setSp] = useSearchParams();
  const f: VmQuery = {
    q: sp.get("q") ?? "",
    state: sp.get("state") ?? "",
    host: sp.get("host") ?? "",
    sort: (sp.get("sort") as SortKey) ?? "name",
    dir: sp.get("dir") === "desc" ? "desc" : "asc",
  };
  const setF = (patch: Partial<VmQuery> & { page?: number }) => {
    const next = new URLSearchParams(sp);
    for (const [k, v] of Object.entries(patch)) (v ? next.set(k, String(v)) : next.delete(k));
    if (!("page" in patch)) next.delete("page");
    setSp(next, { replace: true });
  };
  const rows = useMemo(() => filterVms(vms.data ?? [], f), [vms.data, f.q, f.state, f.host, f.sort, f.dir]); // eslint-disable-line react-hooks/exhaustive-deps
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const pageNo = Math.min(pages, Math.max(1, Number(sp.get("page")) || 1));
  const shown = rows.slice((pageNo - 1) * PAGE, pageNo * PAGE);
  const [sel, setSel] = useState<Set<string>>(new Set());
  const [confirmDel, setConfirmDel] = useState(false);
  const act = useVmActions();
  const delW = useWrite((ids: string[]) => Promise.all(ids.map((id) => deleteVm(id, true))), [["vms"], ["cluster"], ["volumes"]]);
  const role = loadAuth()?.role;
  const canWrite = role === "admin" || role === "operator";
  const selected = rows.filter((v) => sel.has(v.id));
  const hostName = (id: string) => nodes.data?.find((n) => n.id === id)?.hostname ?? id;

  const sortHeader = (key: SortKey, label: string) => (
    <th className={th} aria-sort={f.sort === key ? (f.dir === "asc" ? "ascending" : "descending") : "none"}>
      <button className="inline-flex items-center gap-1 uppercase hover:text-zinc-900 dark:hover:text-zinc-100" onClick={() => setF({ sort: key, dir: f.sort === key && f.dir === "asc" ? "desc" : "asc" })}>
        {label}
        {f.sort === key && (f.dir === "asc" ? <ArrowUp className="size-3" /> : <ArrowDown className="size-3" />)}
      </button>
    </th>
  );
  const bulk = (action: VmAction) =>
    act.mutate(
      { ids: selected.map((v) => v.id), action },
      { onSuccess: (n) => toast(`${action}: ${n} VM${n === 1 ? "" : "s"}`), onError: (e) => toast(errorText(e), false) },
    );

  return (
    <div className="space-y-4">
      <PageHeader
        title="Virtual machines"
        subtitle={vms.data ? `${vms.data.length} VMs` : undefined}
        actions={
          canWrite && (
            <Link to="/vms/new" className="inline-flex h-8 items-center gap-1.5 rounded-md bg-zinc-900 px-3 text-[13px] font-medium text-white hover:bg-zinc-700 dark:bg-white dark:text-zinc-900 dark:hover:bg-zinc-200">
              <Plus className="size-4" /> New VM
            </Link>
          )
        }
      />
      <div className="flex flex-wrap items-center gap-2">
        <div className="relative min-w-[12rem] flex-1">
          <Search className="pointer-events-none absolute top-2.5 left-2.5 size-4 text-zinc-400" aria-hidden />
          <input className={cx(inputCls, "pl-8")} placeholder="Search by name, id or IP" aria-label="Search VMs" value={f.q} onChange={(e) => setF({ q: e.target.value })} />
        </div>
        <select className={cx(inputBase, "w-auto")} aria-label="Filter by state" value={f.state} onChange={(e) => setF({ state: e.target.value })}>
          <option value="">All states</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s.replace("_", " ")}
            </option>
          ))}
        </select>
        <select className={cx(inputBase, "w-auto")} aria-label="Filter by host" value={f.host} onChange={(e) => setF({ host: e.target.value })}>
          <option value="">All hosts</option>
          {(nodes.data ?? []).map((n) => (
            <option key={n.id} value={n.id}>
              {n.hostname ?? n.id}
            </option>
          ))}
        </select>
      </div>
      {canWrite && selected.length > 0 && (
        <div className="flex flex-wrap items-center gap-2 rounded-lg border border-indigo-200 bg-indigo-50 px-3 py-2 dark:border-indigo-900 dark:bg-indigo-950/50" role="toolbar" aria-label="Bulk actions">
          <span className="mr-2 font-medium">{selected.length} selected</span>
          <Button onClick={() => bulk("start")} busy={act.isPending}>
            <Play className="size-3.5" /> Start
          </Button>
          <Button onClick={() => bulk("shutdown")} busy={act.isPending}>
            <Power className="size-3.5" /> Shut down
          </Button>
          <Button onClick={() => bulk("stop")} busy={act.isPending}>
            <Square className="size-3.5" /> Power off
          </Button>
          <Button variant="danger" onClick={() => setConfirmDel(true)}>
            <Trash2 className="size-3.5" /> Delete
          </Button>
          <Button variant="ghost" onClick={() => setSel(new Set())}>
            Clear
          </Button>
        </div>
      )}
      <Card className="overflow-hidden">
        {vms.isPending ? (
          <Spinner />
        ) : vms.error ? (
          <ErrorState error={vms.error} retry={() => void vms.refetch()} />
        ) : rows.length === 0 ? (
          vms.data.length === 0 ? (
            <Empty title="No virtual machines yet" hint="Create one from an image in the library." action={canWrite && <Link className="text-indigo-600 hover:underline dark:text-indigo-400" to="/vms/new">New VM</Link>} />
          ) : (
            <Empty title="No VM matches these filters" action={<Button onClick={() => setSp(new URLSearchParams(), { replace: true })}>Clear filters</Button>} />
          )
        ) : (
          <Table label="Virtual machines">
            <thead>
              <tr>
                {canWrite && (
                  <th className={cx(th, "w-8")}>
                    <input
                      type="checkbox"
                      aria-label={`Select all ${rows.length}`}
                      title={`Select all ${rows.length} matching VMs`}
                      checked={selected.length === rows.length}
                      onChange={(e) => setSel(e.target.checked ? new Set(rows.map((v) => v.id)) : new Set())}
                    />
                  </th>
                )}
                {sortHeader("name", "Name")}
                {sortHeader("state", "State")}
                {sortHeader("host", "Host")}
                {sortHeader("vcpus", "vCPU")}
                {sortHeader("memory_mib", "Memory")}
                <th className={th}>IP</th>
                {canWrite && <th className={th}><span className="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {shown.map((v) => (
                <tr key={v.id} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40" data-vm={v.name}>
                  {canWrite && (
                    <td className={td}>
                      <input
                        type="checkbox"
                        aria-label={`Select ${v.name}`}
                        checked={sel.has(v.id)}
                        onChange={(e) => {
                          const n = new Set(sel);
                          if (e.target.checked) n.add(v.id);
                          else n.delete(v.id);
                          setSel(n);
                        }}
                      />
                    </td>
                  )}
                  <td className={td}>
                    <Link to={`/vms/${v.id}`} className="font-medium hover:underline">
                      {v.name}
                    </Link>
                  </td>
                  <td className={td}>
                    <StateBadge state={vmState(v)} />
                  </td>
                  <td className={`${td} text-zinc-600 dark:text-zinc-400`}>{vmHost(v) ? hostName(vmHost(v)) : "—"}</td>
                  <td className={`${td} tabular-nums`}>{v.vcpus}</td>
                  <td className={`${td} tabular-nums`}>{mib(v.memory_mib)}</td>
                  <td className={`${td} font-mono text-xs`}>{v.status?.agent?.ips?.[0] ?? "—"}</td>
                  {canWrite && (
                    <td className={`${td} text-right whitespace-nowrap`}>
                      {ACTIONS.filter((a) => a.when(v))
                        .slice(0, 2)
                        .map(({ action, label, icon: Icon }) => (
                          <button
                            key={action}
                            title={label}
                            aria-label={`${label} ${v.name}`}
                            className="rounded p-1.5 text-zinc-500 hover:bg-zinc-100 hover:text-zinc-900 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
                            onClick={() => act.mutate({ ids: [v.id], action }, { onSuccess: () => toast(`${label}: ${v.name}`), onError: (e) => toast(errorText(e), false) })}
                          >
                            <Icon className="size-4" />
                          </button>
                        ))}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </Table>
        )}
        {pages > 1 && (
          <nav className="flex items-center justify-between gap-2 border-t border-zinc-100 px-3 pt-3 text-xs text-zinc-500 dark:border-zinc-800" aria-label="Pages">
            <span>
              {(pageNo - 1) * PAGE + 1}–{Math.min(rows.length, pageNo * PAGE)} of {rows.length}
            </span>
            <span className="flex gap-2">
              <Button disabled={pageNo <= 1} onClick={() => setF({ page: pageNo - 1 })}>
                Previous
              </Button>
              <Button disabled={pageNo >= pages} onClick={() => setF({ page: pageNo + 1 })}>
                Next
              </Button>
            </span>
          </nav>
        )}
      </Card>
      <Modal
        title={`Delete ${selected.length} VM${selected.length === 1 ? "" : "s"}?`}
        open={confirmDel}
        onClose={() => setConfirmDel(false)}
        footer={
          <>
            <Button onClick={() => setConfirmDel(false)}>Cancel</Button>
            <Button
              variant="danger"
              busy={delW.isPending}
              onClick={() =>
                delW.mutate(
                  selected.map((v) => v.id),
                  {
                    onSuccess: () => {
                      toast(`Deleted ${selected.length} VM(s)`);
                      setSel(new Set());
                      setConfirmDel(false);
                    },
                    onError: (e) => toast(errorText(e), false),
                  },
                )
              }
            >
              Delete
            </Button>
          </>
        }
      >
        <p>Running VMs are powered off first. Their disks are deleted too.</p>
        <ul className="mt-2 list-inside list-disc text-zinc-500">
          {selected.slice(0, 10).map((v) => (
            <li key={v.id}>{v.name}</li>
          ))}
        </ul>
      </Modal>
    </div>
  );
}
