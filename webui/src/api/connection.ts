/**
 * Which peer the UI talks to, and moving to another member when it stops answering.
 *
 * The page talks to its own origin only (the API sends no CORS headers). When the
 * origin stops answering, the UI probes the other members it learnt from
 * /cluster and /nodes (an opaque `no-cors` GET of /api/v1/health: it resolves
 * when the peer answers TLS + HTTP at all) and navigates to the first one that
 * answers, carrying the API token in the URL fragment.
 */
import { useSyncExternalStore } from "react";
import { loadAuth, handoffFragment } from "./auth";
import { onNetwork } from "./client";

export type ConnState =
  | { kind: "online"; movedFrom?: string }
  | { kind: "reconnecting"; since: number; tried: string[] }
  | { kind: "moving"; to: string };

let state: ConnState = { kind: "online" };
// Where we came from after a failover: said until the user dismisses it.
let movedFrom: string | undefined;
const subs = new Set<() => void>();
function set(s: ConnState): void {
  const back = state.kind !== "online" && s.kind === "online";
  state = s.kind === "online" && movedFrom ? { kind: "online", movedFrom } : s;
  for (const f of subs) f();
  if (back) for (const f of reconnected) f();
}
const reconnected = new Set<() => void>();
/** Called when this peer answers again after trouble (refetch what failed meanwhile). */
export function onReconnected(f: () => void): () => void {
  reconnected.add(f);
  return () => reconnected.delete(f);
}
export function connState(): ConnState {
  return state;
}
export function useConnection(): ConnState {
  return useSyncExternalStore(
    (f) => {
      subs.add(f);
      return () => subs.delete(f);
    },
    () => state,
  );
}
export function markMovedFrom(from: string | undefined): void {
  movedFrom = from;
  set({ kind: "online" });
}

const PEERS = "qx-peers";
export function rememberPeers(origins: string[]): void {
  const uniq = [...new Set(origins)].filter((o) => o !== window.location.origin);
  try {
    sessionStorage.setItem(PEERS, JSON.stringify(uniq));
  } catch {
    /* storage full or disabled: failover just has fewer choices */
  }
}
export function knownPeers(): string[] {
  try {
    return JSON.parse(sessionStorage.getItem(PEERS) ?? "[]") as string[];
  } catch {
    return [];
  }
}

async function answers(origin: string, sameOrigin: boolean, ms = 2500): Promise<boolean> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    await fetch(`${origin}/api/v1/health`, {
      mode: sameOrigin ? "same-origin" : "no-cors",
      cache: "no-store",
      credentials: "omit",
      signal: ctl.signal,
    });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Injectable for tests: where to go. */
export const nav = { assign: (href: string) => window.location.assign(href) };

let recovering = false;
/**
 * Called when a request or the event stream failed at the network level. Probes
 * this origin a few times (a blip is not a failover), then the other members.
 */
export async function recover(opts: { ownTries?: number; intervalMs?: number } = {}): Promise<void> {
  if (recovering) return;
  recovering = true;
  const ownTries = opts.ownTries ?? 3;
  const interval = opts.intervalMs ?? 1500;
  const since = Date.now();
  set({ kind: "reconnecting", since, tried: [] });
  try {
    for (let round = 0; ; round++) {
      if (await answers(window.location.origin, true)) {
        set({ kind: "online" });
        return;
      }
      if (round + 1 >= ownTries) {
        const auth = loadAuth();
        const tried: string[] = [];
        for (const origin of knownPeers()) {
          tried.push(origin);
          set({ kind: "reconnecting", since, tried: [...tried] });
          if (auth?.token && (await answers(origin, false))) {
            set({ kind: "moving", to: origin });
            const path = window.location.pathname + window.location.search;
            nav.assign(origin + path + handoffFragment(auth, window.location.host));
            return;
          }
        }
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    recovering = false;
  }
}

let installed = false;
/** Start watching request failures. */
export function installFailover(): void {
  if (installed) return;
  installed = true;
  onNetwork((ok) => {
    if (!ok) void recover();
  });
}
