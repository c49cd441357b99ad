import { lazy, Suspense, useState } from "react";
import { Link, NavLink, useNavigate, useParams } from "react-router";
import { ArrowLeft, Trash2 } from "lucide-react";
import { loadAuth } from "../api/auth";
import { ApiError, errorText } from "../api/client";
import { createSnapshot, deleteSnapshot, deleteVm, revertSnapshot, useConsole, useEvents, useNodes, useSnapshots, useTasks, useVm, useVolumes, useWrite } from "../api/queries";
import type { Vm } from "../api/types";
import { ago, bytes, mib, when } from "../lib/format";
import { vmState } from "../lib/vmfilter";
import { Button, Card, Empty, ErrorState, Loadable, Modal, PageHeader, Spinner, StateBadge, Table, cx, td, th } from "../components/ui";
import { toast } from "../components/toast";
import { EventRow } from "./Dashboard";
import { ACTIONS, useVmActions } from "./Vms";
import { AgentReport, RunCommand, SetPassword } from "../components/GuestAgent";

const TABS = ["summary", "guest", "console", "snapshots", "disks", "events"] as const;
// noVNC loads only when a console is opened.
const VncConsole = lazy(() => import("../components/VncConsole"));

function Summary({ vm }: { vm: Vm }) {
  const nodes = useNodes();
  const tasks = useTasks();
  const host = vm.status?.node ?? vm.placement;
  const mine = (tasks.data ?? []).filter((t) => t.resource === `vms/${vm.id}`).slice(0, 5);
  return (
    <div className="grid gap-5 lg:grid-cols-2">
      <Card title="Configuration">
        <dl className="grid grid-cols-[8rem_minmax(0,1fr)] gap-y-2">
          <dt className="text-zinc-500">State</dt>
          <dd>
            <StateBadge state={vmState(vm)} /> <span className="text-xs text-zinc-500">desired: {vm.desired}</span>
          </dd>
          {vm.status?.error && (
            <>
              <dt className="text-zinc-500">Error</dt>
              <dd className="break-words text-red-600 dark:text-red-400" data-testid="vm-error">
                {vm.status.error}
              </dd>
            </>
          )}
          <dt className="text-zinc-500">Host</dt>
          <dd>{host ? <Link className="hover:underline" to={`/hosts/${host}`}>{nodes.data?.find((n) => n.id === host)?.hostname ?? host}</Link> : "not placed yet"}</dd>
          <dt className="text-zinc-500">vCPUs</dt>
          <dd>{vm.vcpus}</dd>
          <dt className="text-zinc-500">Memory</dt>
          <dd>{mib(vm.memory_mib)}</dd>
          <dt className="text-zinc-500">Firmware</dt>
          <dd>
            {vm.firmware ?? "bios"} · {vm.machine ?? "pc"}
          </dd>
          <dt className="text-zinc-500">Networks</dt>
          <dd>{(vm.nics ?? []).map((n) => `${n.network}${n.mac ? ` (${n.mac})` : ""}`).join(", ") || "none"}</dd>
          <dt className="text-zinc-500">IPs</dt>
          <dd className="font-mono text-xs">{vm.status?.agent?.ips?.join(", ") || "—"}</dd>
          <dt className="text-zinc-500">Guest agent</dt>
          <dd className="text-xs" data-testid="agent-summary">
            {vm.status?.agent?.connected ? `connected · ${vm.status.agent.os?.name ?? ""} · ${vm.status.agent.hostname ?? ""}` : (vm.status?.agent?.reason ?? "not connected")}
          </dd>
          <dt className="text-zinc-500">HA</dt>
          <dd>{vm.ha?.enabled ? "enabled" : "off"}</dd>
          <dt className="text-zinc-500">Created</dt>
          <dd>{when(vm.created_at)}</dd>
        </dl>
      </Card>
      <Card title="Recent tasks">
        {mine.length === 0 ? (
          <Empty title="No tasks" />
        ) : (
          <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
            {mine.map((t) => (
              <li key={t.id} className="flex items-center justify-between gap-2 py-2">
                <div>
                  <span className="font-medium">{t.kind}</span> <span className="text-xs text-zinc-500">{ago(t.created_at)} · {t.user}</span>
                  {t.error && <div className="text-xs text-red-600 dark:text-red-400">{t.error}</div>}
                </div>
                <StateBadge state={t.state} />
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

function Console({ vm }: { vm: Vm }) {
  const running = vmState(vm) === "running";
  const c = useConsole(vm.id, running);
  const nodes = useNodes();
  const token = loadAuth()?.token;
  if (!running) return <Card><Empty title="The VM is not running" hint="Start it to reach its console." /></Card>;
  return (
    <Card title="Console">
      {c.isPending ? (
        <Spinner label="Finding the console…" />
      ) : c.error ? (
        c.error instanceof ApiError && c.error.code === "no_console" ? <Empty title="No console yet" hint={c.error.message} /> : <ErrorState error={c.error} retry={() => void c.refetch()} />
      ) : (
        <div className="space-y-3" data-testid="console-info">
          {token ? (
            <Suspense fallback={<Spinner label="Loading the console…" />}>
              <VncConsole url={`wss://${window.location.host}/api/v1/vms/${encodeURIComponent(vm.id)}/console`} token={token} title={`${vm.name} on ${nodes.data?.find((n) => n.id === c.data.node)?.hostname ?? c.data.node}`} />
            </Suspense>
          ) : (
            <p className="rounded-md bg-amber-50 px-3 py-2 text-amber-900 dark:bg-amber-500/10 dark:text-amber-200">This browser has no API token (log out and in again), which the console needs to reach the VM's host.</p>
          )}
          <p className="text-xs text-zinc-500">
            Served by the VM's host ({c.data.address}); your browser must trust that host's certificate. Serial log on the host: <span className="font-mono">{c.data.console?.serial_log ?? "—"}</span>
          </p>
        </div>
      )}
    </Card>
  );
}

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function Snapshots({ vm }: { vm: Vm }) {
  const placed = Boolean(vm.placement);
  const snaps = useSnapshots(vm.id, placed);
  const [name, setName] = useState("");
  const [quiesce, setQuiesce] = useState(false);
  const keys = [["snapshots", vm.id], ["vm", vm.id]];
  const create = useWrite((n: string) => createSnapshot(vm.id, n, quiesce), keys);
  const revert = useWrite((n: string) => revertSnapshot(vm.id, n), keys);
  const remove = useWrite((n: string) => deleteSnapshot(vm.id, n), keys);
  const valid = SNAPSHOT_NAME.test(name);
  const failed = create.error ?? revert.error ?? remove.error;
  if (!placed) return <Card title="Snapshots"><Empty title="Not placed on a host yet" hint="Snapshots live on the VM's host." /></Card>;
  return (
    <Card title="Snapshots">
      <form
        className="mb-4 flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          if (valid) create.mutate(name, { onSuccess: () => setName("") });
        }}
      >
        <label className="flex flex-col gap-1 text-sm">
          <span>New snapshot</span>
          <input
            className="rounded-md border border-zinc-300 bg-transparent px-2 py-1 dark:border-zinc-700"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="before-upgrade"
            aria-invalid={name !== "" && !valid}
            aria-describedby="snap-help"
          />
        </label>
        <label className="flex items-center gap-1 text-sm" title="The guest agent runs the pre-freeze hooks and freezes the file systems for the snapshot">
          <input type="checkbox" checked={quiesce} disabled={!vm.status?.agent?.connected} onChange={(e) => setQuiesce(e.target.checked)} /> Quiesce (guest agent)
        </label>
        <Button type="submit" variant="primary" disabled={!valid} busy={create.isPending}>Take snapshot</Button>
        <span id="snap-help" className="text-xs text-zinc-500">Letters, digits, '.', '_' and '-'; disks and, when running, memory.</span>
      </form>
      {failed ? <p role="alert" className="mb-3 text-sm text-red-600">{errorText(failed)}</p> : null}
      <Loadable q={snaps} empty={(all) => (all.length ? null : <Empty title="No snapshots" hint="Take one above." />)}>
        {(all) => (
          <Table label="Snapshots">
            <thead>
              <tr>
                <th className={th}>Name</th>
                <th className={th}>Taken</th>
                <th className={th}>State</th>
                <th className={th}><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {all.map((s) => (
                <tr key={s.name}>
                  <td className={td}>{s.name}{s.current ? " (current)" : ""}</td>
                  <td className={td}>{typeof s.created_at === "number" ? when(s.created_at) : (s.created_at ?? "—")}</td>
                  <td className={td}>{s.state ?? "—"}</td>
                  <td className={cx(td, "space-x-2 text-right")}>
                    <Button onClick={() => revert.mutate(s.name)} busy={revert.isPending && revert.variables === s.name}>Revert</Button>
                    <Button variant="danger" onClick={() => remove.mutate(s.name)} busy={remove.isPending && remove.variables === s.name}>Delete</Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Loadable>
    </Card>
  );
}

function Disks({ vm }: { vm: Vm }) {
  const vols = useVolumes();
  return (
    <Card title="Disks">
      <Loadable q={vols}>
        {(all) => {
          const mine = all.filter((v) => v.vm === vm.id);
          const spec = vm.disks ?? [];
          if (!spec.length && !mine.length) return <Empty title="No disks" />;
          return (
            <Table label="Disks">
              <thead>
                <tr>
                  <th className={th}>Disk</th>
                  <th className={th}>Pool</th>
                  <th className={th}>Size</th>
                  <th className={th}>Bus</th>
                  <th className={th}>Image</th>
                  <th className={th}>Volume</th>
                </tr>
              </thead>
              <tbody>
                {spec.map((d, i) => {
                  const vol = mine.find((v) => v.id === d.volume) ?? mine[i];
                  return (
                    <tr key={d.id ?? i}>
                      <td className={td}>{d.id ?? `d${i}`}</td>
                      <td className={td}>{d.pool ?? vol?.pool ?? "—"}</td>
                      <td className={td}>{vol?.size_bytes ? bytes(vol.size_bytes) : `${d.size_gib} GiB`}</td>
                      <td className={td}>{d.bus ?? "virtio"}</td>
                      <td className={td}>{d.image ?? "blank"}</td>
                      <td className={`${td} font-mono text-xs`}>
                        {vol?.id ?? d.volume ?? "—"} {vol?.state && <StateBadge state={vol.state} />}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </Table>
          );
        }}
      </Loadable>
    </Card>
  );
}

function VmEvents({ vm }: { vm: Vm }) {
  const ev = useEvents({ resource: "vms" });
  return (
    <Card title="Events">
      <Loadable q={ev}>
        {(all) => {
          const mine = all.filter((e) => e.resource_id === vm.id);
          return mine.length ? (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {mine.map((e) => (
                <EventRow key={e.id} ev={e} />
              ))}
            </ul>
          ) : (
            <Empty title="No events for this VM" />
          );
        }}
      </Loadable>
    </Card>
  );
}

export default function VmDetail() {
  const { id = "", tab = "summary" } = useParams();
  const vm = useVm(id);
  const act = useVmActions();
  const nav = useNavigate();
  const [confirm, setConfirm] = useState(false);
  const del = useWrite(() => deleteVm(id, true), [["vms"], ["cluster"]]);
  const role = loadAuth()?.role;
  const canWrite = role === "admin" || role === "operator";
  return (
    <div className="space-y-5">
      <Link to="/vms" className="inline-flex items-center gap-1 text-zinc-500 hover:text-zinc-900 dark:hover:text-zinc-100">
        <ArrowLeft className="size-4" /> Virtual machines
      </Link>
      <Loadable q={vm}>
        {(v) => (
          <>
            <PageHeader
              title={v.name}
              subtitle={
                <span className="flex items-center gap-2" data-testid="vm-state">
                  <StateBadge state={vmState(v)} /> <span className="font-mono text-xs">{v.id}</span>
                </span>
              }
              actions={
                canWrite && (
                  <>
                    {ACTIONS.filter((a) => a.when(v)).map(({ action, label, icon: Icon }) => (
                      <Button key={action} busy={act.isPending && act.variables?.action === action} onClick={() => act.mutate({ ids: [v.id], action }, { onSuccess: () => toast(`${label}: ${v.name}`), onError: (e) => toast(errorText(e), false) })}>
                        <Icon className="size-3.5" /> {label}
                      </Button>
                    ))}
                    <Button variant="danger" onClick={() => setConfirm(true)} aria-label="Delete VM">
                      <Trash2 className="size-3.5" />
                    </Button>
                  </>
                )
              }
            />
            <nav className="flex gap-1 overflow-x-auto border-b border-zinc-200 dark:border-zinc-800" aria-label="VM sections">
              {TABS.map((t) => (
                <NavLink
                  key={t}
                  to={`/vms/${id}/${t}`}
                  className={() => cx("-mb-px border-b-2 px-3 py-2 text-[13px] font-medium capitalize", tab === t ? "border-zinc-900 text-zinc-900 dark:border-white dark:text-white" : "border-transparent text-zinc-500 hover:text-zinc-800 dark:hover:text-zinc-200")}
                  aria-current={tab === t ? "page" : undefined}
                >
                  {t}
                </NavLink>
              ))}
            </nav>
            {tab === "summary" && <Summary vm={v} />}
            {tab === "guest" && (
              <div className="grid gap-5 lg:grid-cols-2">
                <AgentReport vm={v} />
                {canWrite && v.status?.agent?.connected ? (
                  <div className="space-y-5">
                    <RunCommand vm={v} />
                    <SetPassword vm={v} />
                  </div>
                ) : null}
              </div>
            )}
            {tab === "console" && <Console vm={v} />}
            {tab === "snapshots" && <Snapshots vm={v} />}
            {tab === "disks" && <Disks vm={v} />}
            {tab === "events" && <VmEvents vm={v} />}
            <Modal
              title={`Delete ${v.name}?`}
              open={confirm}
              onClose={() => setConfirm(false)}
              footer={
                <>
                  <Button onClick={() => setConfirm(false)}>Cancel</Button>
                  <Button variant="danger" busy={del.isPending} onClick={() => del.mutate(undefined, { onSuccess: () => { toast(`${v.name} deleted`); void nav("/vms"); }, onError: (e) => toast(errorText(e), false) })}>
                    Delete
                  </Button>
                </>
              }
            >
              <p>The VM is powered off if it runs, and its disks are deleted.</p>
            </Modal>
          </>
        )}
      </Loadable>
    </div>
  );
}
