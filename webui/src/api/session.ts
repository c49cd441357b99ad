/** Logging in (a cookie session plus a token for failover) and out. */
import { saveAuth, loadAuth, type Auth } from "./auth";
import { ApiError, post, del, request } from "./client";
import type { Role, Token } from "./types";

interface LoginReply {
  user: string;
  role: Role;
  csrf_token: string;
  expires_at: number;
}

/** The token lives as long as the session (12 h), so failover never outlives a login. */
export async function login(username: string, password: string): Promise<Auth> {
  const s = await post<LoginReply>("/auth/login", { username, password });
  const auth: Auth = { user: s.user, role: s.role, via: "session", csrf: s.csrf_token, expiresAt: s.expires_at };
  saveAuth(auth);
  const ttl = Math.max(60, Math.floor(s.expires_at - Date.now() / 1000));
  // A few tries: without a token the UI still works here, but it can neither open
  // consoles on other hosts nor move to another host.
  for (let i = 0; i < 3 && !auth.token; i++) {
    try {
      const t = await post<Token & { token: string }>("/tokens", { name: `webui@${window.location.host}`, ttl_s: ttl });
      auth.token = t.token;
      auth.tokenId = t.id;
      saveAuth(auth);
    } catch (e) {
      if (e instanceof ApiError) break; // refused: retrying will not help
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return auth;
}

export async function logout(): Promise<void> {
  const a = loadAuth();
  try {
    if (a?.tokenId) await del(`/tokens/${encodeURIComponent(a.tokenId)}`);
    if (a?.via === "session") await request("/auth/logout", { method: "POST" });
  } finally {
    saveAuth(null);
  }
}
