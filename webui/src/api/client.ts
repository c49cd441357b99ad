/** fetch() against the peer that served the page, with our credentials and errors. */
import { loadAuth, saveAuth } from "./auth";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** Field problems of a 422 `validation_failed`, as path → problem. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    const errs = this.details["errors"];
    if (Array.isArray(errs)) {
      for (const e of errs as { path?: string; problem?: string }[]) out[e.path ?? ""] = e.problem ?? "invalid";
    }
    return out;
  }
}

/** The peer did not answer at all (down, unreachable, certificate refused). */
export class Unreachable extends Error {}

type NetListener = (ok: boolean) => void;
const netListeners = new Set<NetListener>();
export function onNetwork(l: NetListener): () => void {
  netListeners.add(l);
  return () => netListeners.delete(l);
}
function netState(ok: boolean): void {
  for (const l of netListeners) l(ok);
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  query?: Record<string, string | number | boolean | undefined | null>;
}

export const API = "/api/v1";

export function url(path: string, query?: RequestOptions["query"]): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return `${API}${path}${s ? `?${s}` : ""}`;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  const auth = loadAuth();
  if (auth?.via === "token" && auth.token) headers["Authorization"] = `Bearer ${auth.token}`;
  else if (method !== "GET" && auth?.csrf) headers["X-CSRF-Token"] = auth.csrf;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response | undefined;
  // Reads are retried once after a network-level failure: browsers abort
  // requests in flight when the machine's interfaces change (a blip, not a dead peer).
  for (let attempt = 0; !resp; attempt++) {
    try {
      resp = await fetch(url(path, opts.query), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: "same-origin",
        signal: opts.signal,
      });
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      if (method === "GET" && attempt === 0) {
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      netState(false);
      throw new Unreachable("the host serving this page did not answer");
    }
  }
  netState(true);
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const d = (data ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> };
    const err = new ApiError(resp.status, d.code ?? `http_${resp.status}`, d.message ?? resp.statusText, d.details ?? {});
    // Credentials that no longer work: back to the login page.
    if (resp.status === 401 && path !== "/auth/login") saveAuth(null);
    throw err;
  }
  return data as T;
}

export const get = <T>(path: string, query?: RequestOptions["query"], signal?: AbortSignal) =>
  request<T>(path, { query, signal });
export const post = <T>(path: string, body?: unknown, query?: RequestOptions["query"]) =>
  request<T>(path, { method: "POST", body, query });
export const patch = <T>(path: string, body: unknown) => request<T>(path, { method: "PATCH", body });
export const del = <T>(path: string, query?: RequestOptions["query"]) => request<T>(path, { method: "DELETE", query });

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message || e.code;
  if (e instanceof Error) return e.message;
  return String(e);
}
