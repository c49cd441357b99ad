/**
 * The browser's credentials, per tab (sessionStorage, per origin).
 *
 * On the origin where the user logged in the session cookie (HttpOnly) does the
 * work and `csrf` goes with writes. At login the UI also mints an API token for
 * itself: the cookie belongs to one origin (one peer), so when that peer dies the
 * UI moves to another member and carries the token there (in the URL fragment,
 * never sent to a server), where it authenticates as a bearer.
 */
import type { Role } from "./types";

export interface Auth {
  user: string;
  role: Role;
  /** "session": this origin has our cookie; "token": bearer only (after a failover). */
  via: "session" | "token";
  csrf?: string;
  token?: string;
  tokenId?: string;
  expiresAt?: number;
}

const KEY = "qx-auth";
type Listener = (a: Auth | null) => void;
const listeners = new Set<Listener>();

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

// The parsed value is cached: useSyncExternalStore needs the same object back
// until something changed.
let cached: Auth | null | undefined;

export function loadAuth(): Auth | null {
  if (cached === undefined) {
    cached = null;
    const raw = storage()?.getItem(KEY);
    if (raw) {
      try {
        cached = JSON.parse(raw) as Auth;
      } catch {
        cached = null;
      }
    }
  }
  if (cached?.expiresAt && cached.expiresAt * 1000 < Date.now()) cached = null;
  return cached;
}

export function saveAuth(a: Auth | null): void {
  const s = storage();
  if (a) s?.setItem(KEY, JSON.stringify(a));
  else s?.removeItem(KEY);
  cached = a ? { ...a } : null;
  for (const l of listeners) l(cached);
}

export function onAuthChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

const HANDOFF = "qx-handoff=";

/** The URL fragment that carries credentials to another member. */
export function handoffFragment(a: Auth, from: string): string {
  const payload = btoa(JSON.stringify({ user: a.user, role: a.role, token: a.token, tokenId: a.tokenId, expiresAt: a.expiresAt, from }));
  return `#${HANDOFF}${encodeURIComponent(payload)}`;
}

/** Takes credentials handed over in the fragment (and removes them from the URL). */
export function takeHandoff(): { auth: Auth; from: string } | null {
  const h = window.location.hash;
  const i = h.indexOf(HANDOFF);
  if (i < 0) return null;
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    const p = JSON.parse(atob(decodeURIComponent(h.slice(i + HANDOFF.length)))) as Auth & { from: string };
    if (!p.token) return null;
    const auth: Auth = { user: p.user, role: p.role, via: "token", token: p.token, tokenId: p.tokenId, expiresAt: p.expiresAt };
    return { auth, from: p.from };
  } catch {
    return null;
  }
}
