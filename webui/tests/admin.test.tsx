import { describe, expect, it } from "vitest";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import Hosts from "../src/pages/Hosts";
import Settings from "../src/pages/Settings";
import { cluster, mockApi, nodes, page, type Call } from "./mockapi";
import { loginAs, renderAt } from "./render";

describe("hosts", () => {
  it("puts a host in maintenance and adopts a discovered one", async () => {
    loginAs("admin");
    const api = mockApi({
      "/nodes": page(nodes),
      "/cluster": cluster,
      "/cluster/discovered": page([{ id: "f1", hostname: "fresh-1", address: "10.0.0.9", api_port: 8443, seen_at: Date.now() / 1000 }]),
      "PATCH /nodes/n1": (c: Call) => ({ body: { ...nodes[1], state: (c.body as { maintenance: boolean }).maintenance ? "maintenance" : "active" } }),
      "POST /cluster/discovered/f1/adopt": { node_id: "f1", status: "adopting" },
    });
    renderAt("/hosts", { "/hosts": <Hosts /> });
    const table = await screen.findByRole("table", { name: "Hosts" });
    const row = within(table).getByText("h2").closest("tr")!;
    fireEvent.click(within(row).getByRole("button", { name: /Maintenance/ }));
    await waitFor(() => expect(api.calls.find((c) => c.method === "PATCH")?.body).toEqual({ maintenance: true }));
    fireEvent.click(await screen.findByRole("button", { name: /Adopt/ }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Pairing code"), { target: { value: "ABCD-EFGH-JKMN-PQRS" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Adopt" }));
    await waitFor(() => expect(api.calls.find((c) => c.method === "POST" && c.path === "/cluster/discovered/f1/adopt")?.body).toEqual({ pairing_code: "ABCD-EFGH-JKMN-PQRS" }));
  });
  it("hides host actions from viewers", async () => {
    loginAs("viewer");
    mockApi({ "/nodes": page(nodes), "/cluster": cluster, "/cluster/discovered": page([]) });
    renderAt("/hosts", { "/hosts": <Hosts /> });
    await screen.findByRole("table", { name: "Hosts" });
    expect(screen.queryByRole("button", { name: /Maintenance/ })).toBeNull();
    expect(screen.getByText("No hosts waiting to be adopted")).toBeTruthy();
  });
});

describe("settings", () => {
  it("creates a token, shows it once, and never offers to revoke this browser's own", async () => {
    loginAs("admin");
    const tokens = [{ id: "t1", name: "webui@x", user: "alice", role: "admin", revoked: false, created_at: Date.now() / 1000 }];
    const api = mockApi({
      "/users": page([{ id: "alice", role: "admin" }, { id: "bob", role: "viewer", locked_until: Date.now() / 1000 + 600 }]),
      "/tokens": () => ({ body: page(tokens) }),
      "POST /tokens": (c: Call) => {
        const t = { id: "t2", name: (c.body as { name: string }).name, user: "alice", role: "admin", revoked: false, created_at: Date.now() / 1000 };
        tokens.push(t);
        return { status: 201, body: { ...t, token: "qx_t2_supersecret" } };
      },
      "POST /users/bob/unlock": { id: "bob", role: "viewer" },
    });
    renderAt("/settings", { "/settings": <Settings /> });
    const list = await screen.findByRole("table", { name: "Tokens" });
    expect(within(list).getByText(/this browser/)).toBeTruthy();
    expect(within(list).queryByRole("button", { name: "Revoke" })).toBeNull();
    fireEvent.change(screen.getByLabelText("New token name"), { target: { value: "terraform" } });
    fireEvent.click(screen.getByRole("button", { name: /Create token/ }));
    expect(await screen.findByText("qx_t2_supersecret")).toBeTruthy();
    await waitFor(() => expect(within(screen.getByRole("table", { name: "Tokens" })).getAllByRole("button", { name: "Revoke" })).toHaveLength(1));
    fireEvent.click(within(await screen.findByRole("table", { name: "Users" })).getByRole("button", { name: /Unlock/ }));
    await waitFor(() => expect(api.calls.some((c) => c.path === "/users/bob/unlock")).toBe(true));
  });
});
