/** TanStack Query hooks, one per resource. Live updates invalidate these keys (live.ts). */
import { useMutation, useQuery, useQueryClient, type UseQueryOptions } from "@tanstack/react-query";
import { get, post, patch, del } from "./client";
import { rememberPeers } from "./connection";
import type {
  AuditRec, Certificate, Cluster, ConsoleInfo, Discovered, Image, Network, NodeRec, SecurityGroup, Page, Pool,
  QxEvent, Task, Token, User, Vm, Volume,
  ExecResult,
} from "./types";

/** Every page of a list (the API's `limit` tops out at 1000). */
export async function listAll<T>(path: string, query: Record<string, string | number | undefined> = {}, max = 10000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined;
  do {
    const page = await get<Page<T>>(path, { ...query, limit: 1000, cursor: cursor ?? undefined });
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

type Opts<T> = Omit<UseQueryOptions<T, Error, T, string[]>, "queryKey" | "queryFn">;

export const useCluster = (o: Opts<Cluster> = {}) =>
  useQuery({ queryKey: ["cluster"], queryFn: () => get<Cluster>("/cluster"), ...o });

export function useNodes(o: Opts<NodeRec[]> = {}) {
  return useQuery({
    queryKey: ["nodes"],
    queryFn: async () => {
      const nodes = await listAll<NodeRec>("/nodes");
      // Where to go if this peer dies: every member's API origin.
      rememberPeers(
        nodes
          .filter((n) => n.address && n.state !== "removed")
          .map((n) => `https://${n.address}:${n.api_port ?? (window.location.port || 443)}`),
      );
      return nodes;
    },
    ...o,
  });
}

export const useNode = (id: string) =>
  useQuery({ queryKey: ["node", id], queryFn: () => get<NodeRec>(`/nodes/${encodeURIComponent(id)}`) });

/** A VM whose observed state has not caught up with its desired state. */
export function settling(v: Vm): boolean {
  const s = v.status?.state;
  if (!v.desired) return false;
  if (!s) return v.desired === "running";
  if (s === "error") return false;
  return s !== v.desired;
}

// The reconciler reports observed state (vm_status) without an event for every
// transition, so a list with VMs in flight refetches every 2 s until they settle.
const SETTLE_MS = 2000;

export const useVms = () =>
  useQuery({
    queryKey: ["vms"],
    queryFn: () => listAll<Vm>("/vms"),
    // A big list is costly to refetch: slower while many VMs are in flight.
    refetchInterval: (q) => {
      const d = q.state.data ?? [];
      return d.some(settling) ? (d.length > 200 ? 3 * SETTLE_MS : SETTLE_MS) : false;
    },
  });

export const useVm = (id: string) =>
  useQuery({
    queryKey: ["vm", id],
    queryFn: () => get<Vm>(`/vms/${encodeURIComponent(id)}`),
    refetchInterval: (q) => (q.state.data && settling(q.state.data) ? SETTLE_MS : false),
  });

export const useTasks = () =>
  useQuery({ queryKey: ["tasks"], queryFn: async () => (await get<Page<Task>>("/tasks", { limit: 200 })).items });

export const usePools = () => useQuery({ queryKey: ["pools"], queryFn: () => listAll<Pool>("/pools") });
export const useVolumes = () => useQuery({ queryKey: ["volumes"], queryFn: () => listAll<Volume>("/volumes") });
export const useImages = () =>
  useQuery({
    queryKey: ["images"],
    queryFn: () => listAll<Image>("/images"),
    // Follow imports and uploads in flight; a pending image without a source
    // waits for an upload that may never come: no polling for it.
    refetchInterval: (q) => ((q.state.data ?? []).some((i) => i.state === "importing" || i.state === "uploading" || (i.state === "pending" && i.source_url)) ? SETTLE_MS : false),
  });
export const useNetworks = () => useQuery({ queryKey: ["networks"], queryFn: () => listAll<Network>("/networks") });
export const useSecurityGroups = () => useQuery({ queryKey: ["security_groups"], queryFn: () => listAll<SecurityGroup>("/security_groups") });
export const useCertificates = () =>
  useQuery({
    queryKey: ["certificates"],
    queryFn: () => get<{ items: Certificate[]; warning_days: number }>("/cluster/certificates"),
  });
export const useDiscovered = () =>
  useQuery({ queryKey: ["discovered"], queryFn: async () => (await get<Page<Discovered>>("/cluster/discovered")).items });

export const useEvents = (filters: Record<string, string | undefined> = {}) =>
  useQuery({
    queryKey: ["events", JSON.stringify(filters)],
    queryFn: async () => (await get<Page<QxEvent>>("/events", { limit: 200, ...filters })).items,
  });

export const useAudit = (enabled: boolean) =>
  useQuery({ queryKey: ["audit"], queryFn: async () => (await get<Page<AuditRec>>("/audit", { limit: 200 })).items, enabled });

export const useUsers = (enabled: boolean) => useQuery({ queryKey: ["users"], queryFn: () => listAll<User>("/users"), enabled });
export const useTokens = () => useQuery({ queryKey: ["tokens"], queryFn: () => listAll<Token>("/tokens") });

export const useConsole = (id: string, enabled: boolean) =>
  useQuery({ queryKey: ["console", id], queryFn: () => get<ConsoleInfo>(`/vms/${encodeURIComponent(id)}/console`), enabled, retry: false });

/** A write, then invalidate what it touched (the event stream would too, but not instantly). */
export function useWrite<A, R = unknown>(fn: (a: A) => Promise<R>, keys: string[][]) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSettled: () => {
      for (const queryKey of keys) void qc.invalidateQueries({ queryKey });
    },
  });
}

export type VmAction = "start" | "shutdown" | "stop" | "reboot" | "pause" | "resume";
export const vmAction = (id: string, action: VmAction) => post<Task>(`/vms/${encodeURIComponent(id)}/${action}`);
export const deleteVm = (id: string, force: boolean) => del(`/vms/${encodeURIComponent(id)}`, { force: force || undefined });
export const patchNode = (id: string, body: { maintenance?: boolean; labels?: Record<string, string | null> }) => patch<NodeRec>(`/nodes/${encodeURIComponent(id)}`, body);
export const removeNode = (id: string) => del(`/nodes/${encodeURIComponent(id)}`);
export const adopt = (id: string, pairingCode: string) => post(`/cluster/discovered/${encodeURIComponent(id)}/adopt`, { pairing_code: pairingCode });

/** A VM's snapshots live on its host; any peer answers (it forwards to the host). */
export interface Snapshot {
  name: string;
  description?: string;
  created_at?: number | string;
  state?: string;
  current?: boolean;
}
const snapPath = (id: string) => `/vms/${encodeURIComponent(id)}/snapshots`;
export const useSnapshots = (id: string, enabled: boolean) =>
  useQuery({ queryKey: ["snapshots", id], queryFn: async () => (await get<{ items: Snapshot[] }>(snapPath(id))).items, enabled, retry: false });
export const createSnapshot = (id: string, name: string, quiesce = false) => post<Snapshot>(snapPath(id), quiesce ? { name, quiesce } : { name });
const agentPath = (id: string) => `/vms/${encodeURIComponent(id)}/agent`;
export const agentExec = (id: string, command: string[], timeout_s: number) => post<ExecResult>(`${agentPath(id)}/exec`, { command, timeout_s });
export const agentPassword = (id: string, user: string, password: string) => post(`${agentPath(id)}/password`, { user, password });
export const revertSnapshot = (id: string, name: string) => post(`${snapPath(id)}/${encodeURIComponent(name)}/revert`);
export const deleteSnapshot = (id: string, name: string) => del(`${snapPath(id)}/${encodeURIComponent(name)}`);
