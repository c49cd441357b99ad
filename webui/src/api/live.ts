/**
 * Live updates: the events websocket invalidates the TanStack queries an event
 * is about (batched), so pages refetch only what changed. No polling while the
 * stream is up. After a failover the UI holds only a bearer token, which a
 * browser cannot put on a websocket, so it follows GET /events instead (one small
 * request every few seconds).
 */
import type { QueryClient } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { loadAuth } from "./auth";
import { get, Unreachable } from "./client";
import { recover } from "./connection";
import type { Page, QxEvent } from "./types";

export type LiveMode = "off" | "connecting" | "stream" | "polling";
let mode: LiveMode = "off";
const subs = new Set<() => void>();
function setMode(m: LiveMode): void {
  mode = m;
  for (const f of subs) f();
}
export function useLiveMode(): LiveMode {
  return useSyncExternalStore(
    (f) => {
      subs.add(f);
      return () => subs.delete(f);
    },
    () => mode,
  );
}

/** Query keys an event makes stale. */
export function keysFor(ev: Pick<QxEvent, "resource" | "resource_id" | "kind">): string[][] {
  const keys: string[][] = [["events"], ["audit"]];
  const r = ev.resource ?? ev.kind.split(".")[0] ?? "";
  const id = ev.resource_id ?? undefined;
  switch (r) {
    case "vms":
    case "vm":
      keys.push(["vms"], ["cluster"], ["tasks"], ["volumes"]);
      if (id) keys.push(["vm", id]);
      break;
    case "nodes":
    case "node":
    case "cluster":
      keys.push(["nodes"], ["cluster"], ["discovered"]);
      if (id) keys.push(["node", id]);
      break;
    case "tasks":
      keys.push(["tasks"], ["vms"]);
      break;
    case "pools":
    case "volumes":
    case "images":
      keys.push([r]);
      break;
    case "users":
    case "tokens":
    case "networks":
      keys.push([r]);
      break;
    default:
      keys.push(["cluster"]);
  }
  return keys;
}

const RECENT_MAX = 200;

export function startLive(qc: QueryClient): () => void {
  let stopped = false;
  let ws: WebSocket | null = null;
  let lastRev: number | null = null;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending = new Map<string, string[]>();
  let flush: ReturnType<typeof setTimeout> | undefined;

  const apply = (ev: QxEvent) => {
    if (ev.revision !== undefined) lastRev = Math.max(lastRev ?? 0, ev.revision);
    qc.setQueryData<QxEvent[]>(["live-events"], (old) => [ev, ...(old ?? [])].slice(0, RECENT_MAX));
    for (const k of keysFor(ev)) pending.set(k.join("\u0000"), k);
    if (!flush)
      flush = setTimeout(() => {
        const keys = [...pending.values()];
        pending = new Map();
        flush = undefined;
        for (const queryKey of keys) void qc.invalidateQueries({ queryKey });
      }, 250);
  };

  const connect = () => {
    if (stopped) return;
    const auth = loadAuth();
    if (!auth) return setMode("off");
    if (auth.via === "token") return poll();
    setMode("connecting");
    const proto = window.location.protocol === "https:" ? "wss" : "ws";
    const q = lastRev !== null ? `?from_revision=${lastRev}` : "";
    ws = new WebSocket(`${proto}://${window.location.host}/api/v1/events/stream${q}`);
    ws.onopen = () => {
      const reconnect = failures > 0 || lastRev !== null;
      failures = 0;
      setMode("stream");
      // Whatever happened while we were away is in the resumed stream, but a
      // refetch also covers state that changed without an event.
      if (reconnect) void qc.invalidateQueries();
    };
    ws.onmessage = (m) => {
      try {
        apply(JSON.parse(String(m.data)) as QxEvent);
      } catch {
        /* not an event: ignore */
      }
    };
    ws.onclose = () => {
      ws = null;
      if (stopped) return;
      failures++;
      setMode("connecting");
      if (failures >= 2) void recover();
      timer = setTimeout(connect, Math.min(8000, 500 * 2 ** Math.min(failures, 4)));
    };
  };

  let newest: string | null = null;
  const poll = async () => {
    if (stopped) return;
    setMode("polling");
    try {
      const page = await get<Page<QxEvent>>("/events", { limit: 50 });
      const fresh: QxEvent[] = [];
      for (const ev of page.items) {
        if (ev.id === newest) break;
        fresh.push(ev);
      }
      if (newest !== null) for (const ev of fresh.reverse()) apply(ev);
      if (page.items[0]) newest = page.items[0].id;
    } catch (e) {
      if (!(e instanceof Unreachable)) {
        /* an API error: try again next round */
      }
    }
    timer = setTimeout(() => void poll(), 4000);
  };

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(flush);
    ws?.close();
    setMode("off");
  };
}
