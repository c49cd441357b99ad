import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ArrowLeft, Trash2 } from "lucide-react";
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { loadAuth } from "../api/auth";
import { errorText } from "../api/client";
import { removeNode, useCluster, useNode, useVms, useWrite } from "../api/queries";
import { mib, when } from "../lib/format";
import { vmState } from "../lib/vmfilter";
import { Button, Card, Empty, Loadable, Modal, PageHeader, StateBadge } from "../components/ui";
import { toast } from "../components/toast";
import { memUsed } from "../lib/hosts";

interface Sample {
  t: string;
  mem: number;
  vms: number;
}

export default function HostDetail() {
  const { id = "" } = useParams();
  const node = useNode(id);
  const vms = useVms();
  const cluster = useCluster();
  const nav = useNavigate();
  const [confirm, setConfirm] = useState(false);
  const remove = useWrite(() => removeNode(id), [["nodes"], ["cluster"]]);
  const here = useMemo(() => (vms.data ?? []).filter((v) => (v.status?.node ?? v.placement) === id), [vms.data, id]);
  const running = here.filter((v) => vmState(v) === "running").length;
  // Live chart: the host record is rewritten by its peer every ~10 s (telemetry);
  // refetch at that pace while this page is open and keep a rolling window.
  const [samples, setSamples] = useState<Sample[]>([]);
  const last = useRef<number>(0);
  useEffect(() => {
    const t = setInterval(() => void node.refetch(), 10_000);
    return () => clearInterval(t);
  }, [node.refetch]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!node.data || node.dataUpdatedAt === last.current) return;
    last.current = node.dataUpdatedAt;
    const s = { t: new Date(node.dataUpdatedAt).toLocaleTimeString(), mem: memUsed(node.data) ?? 0, vms: running };
    setSamples((old) => [...old, s].slice(-60));
  }, [node.data, node.dataUpdatedAt, running]);
  const member = cluster.data?.members.find((m) => m.node_id === id);
  const byMem = node.data ? memUsed(node.data) !== null : false;
  return (
    <div className="space-y-5">
      <Link to="/hosts" className="inline-flex items-center gap-1 text-zinc-500 hover:text-zinc-900 dark:hover:text-zinc-100">
        <ArrowLeft className="size-4" /> Hosts
      </Link>
      <Loadable q={node}>
        {(n) => (
          <>
            <PageHeader
              title={n.hostname ?? n.id}
              subtitle={
                <span className="flex flex-wrap items-center gap-2">
                  <StateBadge state={n.state} /> {member?.leader ? "Raft leader" : n.voter ? "voter" : "non-voter"} · {n.address} · {n.version_string ?? ""}
                </span>
              }
              actions={
                loadAuth()?.role === "admin" && (
                  <Button variant="danger" onClick={() => setConfirm(true)} disabled={n.state === "removed"}>
                    <Trash2 className="size-3.5" /> Remove host
                  </Button>
                )
              }
            />
            <div className="grid gap-5 lg:grid-cols-3">
              <Card title="Resources">
                <dl className="grid grid-cols-2 gap-y-2">
                  <dt className="text-zinc-500">CPUs</dt>
                  <dd>{n.resources?.cpus ?? "—"}</dd>
                  <dt className="text-zinc-500">Memory</dt>
                  <dd>{mib(n.resources?.memory_mib)}</dd>
                  <dt className="text-zinc-500">Memory free</dt>
                  <dd>{n.resources?.memory_free_mib ? mib(n.resources.memory_free_mib) : "not reported"}</dd>
                  <dt className="text-zinc-500">Acceleration</dt>
                  <dd>{n.resources?.accel ?? (n.resources?.kvm ? "kvm" : "tcg")}</dd>
                  <dt className="text-zinc-500">VMs here</dt>
                  <dd>
                    {running} running / {here.length}
                  </dd>
                  <dt className="text-zinc-500">Joined</dt>
                  <dd>{when(n.joined_at)}</dd>
                  <dt className="text-zinc-500">Lease age</dt>
                  <dd>{member?.lease_age_s != null ? `${member.lease_age_s.toFixed(1)} s` : "—"}</dd>
                </dl>
                {n.labels && Object.keys(n.labels).length > 0 && (
                  <div className="mt-3 flex flex-wrap gap-1">
                    {Object.entries(n.labels).map(([k, v]) => (
                      <span key={k} className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs dark:bg-zinc-800">
                        {k}={v}
                      </span>
                    ))}
                  </div>
                )}
              </Card>
              <Card title={memUsed(n) === null ? "Running VMs (live; memory use not reported)" : "Memory used (live)"} className="lg:col-span-2">
                {samples.length < 1 ? (
                  <p className="py-16 text-center text-zinc-500">Waiting for the first sample…</p>
                ) : (
                  <div className="h-56">
                    <ResponsiveContainer width="100%" height="100%">
                      <AreaChart data={samples} margin={{ left: 8, right: 8, top: 8 }}>
                        <defs>
                          <linearGradient id="mem" x1="0" y1="0" x2="0" y2="1">
                            <stop offset="0%" stopColor="#6366f1" stopOpacity={0.35} />
                            <stop offset="100%" stopColor="#6366f1" stopOpacity={0} />
                          </linearGradient>
                        </defs>
                        <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.1} />
                        <XAxis dataKey="t" fontSize={11} stroke="currentColor" strokeOpacity={0.5} />
                        <YAxis fontSize={11} stroke="currentColor" strokeOpacity={0.5} tickFormatter={(v: number) => (byMem ? mib(v) : String(v))} width={70} allowDecimals={false} domain={[0, byMem ? (n.resources?.memory_mib ?? "auto") : "auto"]} />
                        <Tooltip formatter={(v) => (byMem ? mib(Number(v)) : String(v))} />
                        <Area type="monotone" dataKey={byMem ? "mem" : "vms"} name={byMem ? "memory used" : "running VMs"} stroke="#6366f1" fill="url(#mem)" isAnimationActive={false} />
                      </AreaChart>
                    </ResponsiveContainer>
                  </div>
                )}
              </Card>
            </div>
            <Card title="VMs on this host">
              {here.length === 0 ? (
                <Empty title="No VMs on this host" />
              ) : (
                <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
                  {here.map((v) => (
                    <li key={v.id} className="flex items-center justify-between py-2">
                      <Link to={`/vms/${v.id}`} className="font-medium hover:underline">
                        {v.name}
                      </Link>
                      <StateBadge state={vmState(v)} />
                    </li>
                  ))}
                </ul>
              )}
            </Card>
            <Modal
              title={`Remove ${n.hostname ?? n.id}?`}
              open={confirm}
              onClose={() => setConfirm(false)}
              footer={
                <>
                  <Button onClick={() => setConfirm(false)}>Cancel</Button>
                  <Button
                    variant="danger"
                    busy={remove.isPending}
                    onClick={() =>
                      remove.mutate(undefined, {
                        onSuccess: () => {
                          toast(`${n.hostname} removed`);
                          void nav("/hosts");
                        },
                        onError: (e) => toast(errorText(e), false),
                      })
                    }
                  >
                    Remove
                  </Button>
                </>
              }
            >
              <p>The host leaves the cluster (and its Raft voter set). Its VMs are restarted elsewhere by HA where enabled. This cannot be undone from here: the host must be reinstalled or adopted again.</p>
            </Modal>
          </>
        )}
      </Loadable>
    </div>
  );
}
