import type { Vm } from "../api/types";

export type SortKey = "name" | "state" | "vcpus" | "memory_mib" | "host" | "created_at";
export interface VmQuery {
  q: string;
  state: string; // "" = any
  host: string; // "" = any
  sort: SortKey;
  dir: "asc" | "desc";
}

/** What the table shows for a VM's state: observed when known, else pending. */
export function vmState(v: Vm): string {
  return v.status?.state ?? (v.desired === "running" ? "pending" : (v.desired ?? "unknown"));
}
export const vmHost = (v: Vm) => v.status?.node ?? v.placement ?? "";

export function filterVms(vms: Vm[], f: VmQuery): Vm[] {
  const q = f.q.trim().toLowerCase();
  const out = vms.filter(
    (v) =>
      (!q || v.name.toLowerCase().includes(q) || v.id.toLowerCase().includes(q) || (v.status?.agent?.ips ?? []).some((ip) => ip.includes(q))) &&
      (!f.state || vmState(v) === f.state) &&
      (!f.host || vmHost(v) === f.host),
  );
  const key = (v: Vm): string | number => {
    switch (f.sort) {
      case "state":
        return vmState(v);
      case "host":
        return vmHost(v);
      case "vcpus":
        return v.vcpus;
      case "memory_mib":
        return v.memory_mib;
      case "created_at":
        return v.created_at ?? 0;
      default:
        return v.name;
    }
  };
  const sign = f.dir === "asc" ? 1 : -1;
  return out.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * sign : a.name.localeCompare(b.name);
  });
}

export function countByState(vms: Vm[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vms) out[vmState(v)] = (out[vmState(v)] ?? 0) + 1;
  return out;
}
