import { useState } from "react";
import { Link } from "react-router";
import { Crown, Plus, Wrench } from "lucide-react";
import { loadAuth } from "../api/auth";
import { errorText } from "../api/client";
import { adopt, patchNode, useCluster, useDiscovered, useNodes, useWrite } from "../api/queries";
import { memUsed } from "../lib/hosts";
import { ago, mib, pct } from "../lib/format";
import { Button, Card, Empty, Field, InlineError, inputCls, Loadable, Meter, Modal, PageHeader, StateBadge, Table, td, th } from "../components/ui";
import { toast } from "../components/toast";

import type { Discovered } from "../api/types";

/** Adopting needs the pairing code the host shows on its own console: it proves
 * someone at that host wants it adopted, and pins its certificate. */
function AdoptDialog({ host, onClose }: { host: Discovered | null; onClose: () => void }) {
  const [code, setCode] = useState("");
  const name = host ? (host.hostname ?? host.id) : "";
  const w = useWrite(() => adopt(host?.id ?? "", code.trim()), [["discovered"], ["nodes"]]);
  const close = () => {
    setCode("");
    w.reset();
    onClose();
  };
  return (
    <Modal
      title={`Adopt ${name}`}
      open={host !== null}
      onClose={close}
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button variant="primary" busy={w.isPending} disabled={!code.trim()} onClick={() => w.mutate(undefined, { onSuccess: () => { toast(`Adopting ${name}`); close(); } })}>
            Adopt
          </Button>
        </>
      }
    >
      <div className="space-y-4">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          The host shows a pairing code on its console (and in its log). Type it here: only the host that shows it is adopted, and the cluster secret goes to no other.
        </p>
        <Field label="Pairing code" htmlFor="pairing-code" hint={host?.cert_fp ? `Certificate ${host.cert_fp.slice(0, 16)}…` : undefined}>
          <input id="pairing-code" className={`${inputCls} font-mono uppercase`} autoComplete="off" spellCheck={false} value={code} placeholder="XXXX-XXXX-XXXX-XXXX" onChange={(e) => setCode(e.target.value)} />
        </Field>
        <InlineError error={w.error} />
      </div>
    </Modal>
  );
}

export default function Hosts() {
  const nodes = useNodes();
  const cluster = useCluster();
  const discovered = useDiscovered();
  const admin = loadAuth()?.role === "admin";
  const operator = admin || loadAuth()?.role === "operator";
  const [busy, setBusy] = useState<string | null>(null);
  const maint = useWrite(({ id, on }: { id: string; on: boolean }) => patchNode(id, { maintenance: on }), [["nodes"], ["cluster"]]);
  const [adopting, setAdopting] = useState<Discovered | null>(null);
  return (
    <div className="space-y-5">
      <PageHeader title="Hosts" subtitle="Every host is an equal peer: each one serves this UI and the API." />
      <Card>
        <Loadable q={nodes} empty={(d) => (d.length ? null : <Empty title="No hosts" />)}>
          {(list) => (
            <Table label="Hosts">
              <thead>
                <tr>
                  <th className={th}>Host</th>
                  <th className={th}>State</th>
                  <th className={th}>Address</th>
                  <th className={th}>CPUs</th>
                  <th className={`${th} w-48`}>Memory</th>
                  <th className={th}>Lease</th>
                  {operator && <th className={th}>
                    <span className="sr-only">Actions</span>
                  </th>}
                </tr>
              </thead>
              <tbody>
                {list.map((n) => {
                  const m = cluster.data?.members.find((x) => x.node_id === n.id);
                  return (
                    <tr key={n.id} className="hover:bg-zinc-50 dark:hover:bg-zinc-800/40">
                      <td className={td}>
                        <Link to={`/hosts/${n.id}`} className="flex items-center gap-1.5 font-medium hover:underline">
                          {n.hostname ?? n.id}
                          {m?.leader && <Crown className="size-3.5 text-amber-500" aria-label="leader" />}
                        </Link>
                        <div className="font-mono text-xs text-zinc-500">{n.id}</div>
                      </td>
                      <td className={td}>
                        <StateBadge state={n.state} />
                        {n.voter === false && <span className="ml-1 text-xs text-zinc-500">non-voter</span>}
                      </td>
                      <td className={`${td} font-mono text-xs`}>
                        {n.address ? (
                          // Opening each host once lets the browser accept its certificate,
                          // which the UI needs to move there if this host fails.
                          <a className="hover:underline" href={`https://${n.address}:${n.api_port ?? 8443}/`} target="_blank" rel="noreferrer" title="Open this host's UI (accept its certificate once)">
                            {n.address}
                          </a>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td className={td}>{n.resources?.cpus ?? "—"}</td>
                      <td className={td}>
                        <div className="mb-1 text-xs text-zinc-500">
                          {memUsed(n) === null ? `${mib(n.resources?.memory_mib)} (use not reported)` : `${mib(memUsed(n))} / ${mib(n.resources?.memory_mib)}`}
                        </div>
                        <Meter value={pct(memUsed(n) ?? 0, n.resources?.memory_mib ?? 0)} label={`${n.hostname} memory`} />
                      </td>
                      <td className={`${td} text-xs text-zinc-500`}>{m?.lease_age_s != null ? `${m.lease_age_s.toFixed(1)} s` : "—"}</td>
                      {operator && (
                        <td className={`${td} text-right`}>
                          <Button
                            busy={busy === n.id}
                            disabled={n.state === "removed"}
                            onClick={() => {
                              setBusy(n.id);
                              maint.mutate(
                                { id: n.id, on: n.state !== "maintenance" },
                                {
                                  onSuccess: () => toast(`${n.hostname}: ${n.state === "maintenance" ? "back in service" : "in maintenance"}`),
                                  onError: (e) => toast(errorText(e), false),
                                  onSettled: () => setBusy(null),
                                },
                              );
                            }}
                          >
                            <Wrench className="size-3.5" />
                            {n.state === "maintenance" ? "Exit maintenance" : "Maintenance"}
                          </Button>
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </Table>
          )}
        </Loadable>
      </Card>
      <Card title="Discovered hosts" actions={<span className="text-xs text-zinc-500">Factory-state hosts seen on the LAN by mDNS</span>}>
        <Loadable q={discovered} empty={(d) => (d.length ? null : <Empty title="No hosts waiting to be adopted" hint="A freshly installed host appears here within seconds." />)}>
          {(list) => (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {list.map((d) => (
                <li key={d.id} className="flex items-center justify-between gap-3 py-2">
                  <div>
                    <div className="font-medium">{d.hostname ?? d.id}</div>
                    <div className="text-xs text-zinc-500">
                      {d.address}:{d.api_port} · seen {ago(d.seen_at)}
                    </div>
                  </div>
                  {admin && (
                    <Button variant="primary" onClick={() => setAdopting(d)}>
                      <Plus className="size-3.5" /> Adopt
                    </Button>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Loadable>
      </Card>
      <AdoptDialog host={adopting} onClose={() => setAdopting(null)} />
    </div>
  );
}
