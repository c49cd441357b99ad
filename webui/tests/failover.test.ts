import { describe, expect, it, vi } from "vitest";
import { handoffFragment, loadAuth, saveAuth, takeHandoff } from "../src/api/auth";
import { connState, knownPeers, markMovedFrom, nav, onReconnected, recover, rememberPeers } from "../src/api/connection";
import { request, Unreachable } from "../src/api/client";

describe("failover", () => {
  it("hands the token to another member in the URL fragment, and only the token", () => {
    const auth = { user: "alice", role: "operator" as const, via: "session" as const, csrf: "c", token: "qx_a_b", tokenId: "a", expiresAt: Date.now() / 1000 + 60 };
    const frag = handoffFragment(auth, "10.0.0.1:8443");
    window.history.replaceState(null, "", `/vms/x${frag}`);
    const got = takeHandoff();
    expect(got?.from).toBe("10.0.0.1:8443");
    expect(got?.auth).toEqual({ user: "alice", role: "operator", via: "token", token: "qx_a_b", tokenId: "a", expiresAt: auth.expiresAt });
    expect(window.location.hash).toBe(""); // removed from the URL and history entry
    expect(window.location.pathname).toBe("/vms/x");
  });

  it("uses the bearer token (no CSRF) after a handoff", async () => {
    saveAuth({ user: "alice", role: "admin", via: "token", token: "qx_a_b" });
    const f = vi.fn(async () => new Response("{}", { status: 200 }));
    vi.stubGlobal("fetch", f);
    await request("/vms/x/stop", { method: "POST" });
    const init = (f.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>)["Authorization"]).toBe("Bearer qx_a_b");
    expect((init.headers as Record<string, string>)["X-CSRF-Token"]).toBeUndefined();
  });

  it("reports a peer that does not answer as unreachable", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    await expect(request("/cluster")).rejects.toBeInstanceOf(Unreachable);
  });

  it("retries this peer, then moves to the first member that answers", async () => {
    saveAuth({ user: "alice", role: "admin", via: "session", csrf: "c", token: "qx_a_b", tokenId: "a" });
    rememberPeers(["https://10.0.0.2:8443", "https://10.0.0.3:8443", window.location.origin]);
    expect(knownPeers()).toEqual(["https://10.0.0.2:8443", "https://10.0.0.3:8443"]);
    const probed: string[] = [];
    vi.stubGlobal("fetch", vi.fn(async (u: string) => {
      probed.push(u);
      if (u.startsWith("https://10.0.0.3")) return new Response(null, { status: 200 });
      throw new TypeError("Failed to fetch");
    }));
    const assign = vi.spyOn(nav, "assign").mockImplementation(() => {});
    await recover({ ownTries: 2, intervalMs: 1 });
    expect(probed.filter((u) => u.startsWith(window.location.origin)).length).toBe(2);
    expect(assign).toHaveBeenCalledTimes(1);
    const href = assign.mock.calls[0]![0];
    expect(href.startsWith("https://10.0.0.3:8443/")).toBe(true);
    expect(href).toContain("#qx-handoff=");
    expect(connState()).toEqual({ kind: "moving", to: "https://10.0.0.3:8443" });
    expect(loadAuth()?.token).toBe("qx_a_b");
  });

  it("stays put when this peer answers again", async () => {
    saveAuth({ user: "alice", role: "admin", via: "session", token: "t" });
    let n = 0;
    vi.stubGlobal("fetch", vi.fn(async () => {
      if (n++ === 0) throw new TypeError("blip");
      return new Response("{}", { status: 200 });
    }));
    const assign = vi.spyOn(nav, "assign").mockImplementation(() => {});
    await recover({ ownTries: 3, intervalMs: 1 });
    expect(assign).not.toHaveBeenCalled();
    expect(connState().kind).toBe("online");
  });

  it("keeps saying where it came from through a blip, and refetches after it", async () => {
    markMovedFrom("10.0.0.1:8443");
    let n = 0;
    vi.stubGlobal("fetch", vi.fn(async () => {
      if (n++ === 0) throw new TypeError("network changed");
      return new Response("{}", { status: 200 });
    }));
    const refetch = vi.fn();
    const off = onReconnected(refetch);
    await recover({ ownTries: 3, intervalMs: 1 });
    off();
    expect(connState()).toEqual({ kind: "online", movedFrom: "10.0.0.1:8443" });
    markMovedFrom(undefined);
    expect(refetch).toHaveBeenCalledTimes(1);
  });
});
