/** A faithful-enough fake of the API for component tests: routes → JSON, records calls. */
import { vi } from "vitest";

export interface Call {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (call: Call) => { status?: number; body?: unknown } | undefined;

export function mockApi(routes: Record<string, unknown | Handler>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const u = new URL(String(input), "https://10.0.0.1:8443");
    const method = (init.method ?? "GET").toUpperCase();
    const call: Call = {
      method,
      path: u.pathname.replace(/^\/api\/v1/, ""),
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init.headers ?? {}) as Record<string, string>,
    };
    calls.push(call);
    const r = routes[`${method} ${call.path}`] ?? (method === "GET" ? routes[call.path] : undefined);
    let out: { status?: number; body?: unknown } | undefined;
    if (typeof r === "function") out = (r as Handler)(call);
    else if (r !== undefined) out = { body: r };
    if (!out) out = { status: 404, body: { code: "not_found", message: `no mock for ${method} ${call.path}`, details: {} } };
    const status = out.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(out.body ?? {}), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock };
}

export const page = <T,>(items: T[]) => ({ items, next_cursor: null, revision: 10 });

export function fakeVms(n: number) {
  const states = ["running", "stopped", "paused", "error"];
  return Array.from({ length: n }, (_, i) => ({
    id: `vm${String(i).padStart(5, "0")}`,
    name: `vm-${i}`,
    vcpus: 1 + (i % 4),
    memory_mib: 512 * (1 + (i % 8)),
    desired: states[i % 4] === "error" ? "running" : states[i % 4],
    placement: `n${i % 3}`,
    status: { node: `n${i % 3}`, state: states[i % 4], error: states[i % 4] === "error" ? "boom" : null },
    created_at: 1700000000 + i,
  }));
}

export const cluster = {
  name: "lab",
  leader: "n0",
  term: 3,
  members: [0, 1, 2].map((i) => ({ node_id: `n${i}`, hostname: `h${i + 1}`, address: `10.0.0.${i + 1}`, state: "active", leader: i === 0, voter: true, lease_age_s: 0.3 })),
  health: { status: "healthy", has_quorum: true, nodes_total: 3, nodes_active: 3, vms_total: 0, vms_running: 0, vms_error: 0 },
  revision: 10,
};

export const nodes = [0, 1, 2].map((i) => ({
  id: `n${i}`,
  hostname: `h${i + 1}`,
  address: `10.0.0.${i + 1}`,
  api_port: 8443,
  state: "active",
  voter: true,
  resources: { cpus: 4, memory_mib: 8192, memory_free_mib: 4096 },
}));
