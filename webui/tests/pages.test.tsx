import { describe, expect, it } from "vitest";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { Login } from "../src/pages/Login";
import { Dashboard } from "../src/pages/Dashboard";
import Vms from "../src/pages/Vms";
import VmCreate from "../src/pages/VmCreate";
import { loadAuth } from "../src/api/auth";
import { cluster, fakeVms, mockApi, nodes, page, type Call } from "./mockapi";
import { loginAs, renderAt } from "./render";

describe("login", () => {
  it("logs in with a session, then mints an API token for failover", async () => {
    const api = mockApi({
      "POST /auth/login": { user: "admin", role: "admin", csrf_token: "c1", expires_at: Date.now() / 1000 + 3600 },
      "POST /tokens": { id: "tok1", token: "qx_tok1_s", user: "admin", role: "admin", revoked: false },
    });
    render(<Login />);
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "pw" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(loadAuth()?.token).toBe("qx_tok1_s"));
    expect(loadAuth()).toMatchObject({ user: "admin", via: "session", csrf: "c1", tokenId: "tok1" });
    const tokenCall = api.calls.find((c) => c.path === "/tokens")!;
    expect(tokenCall.headers["X-CSRF-Token"]).toBe("c1");
    expect((tokenCall.body as { ttl_s: number }).ttl_s).toBeGreaterThan(3000);
  });
  it("says so when the password is wrong", async () => {
    mockApi({ "POST /auth/login": () => ({ status: 401, body: { code: "invalid_credentials", message: "wrong user name or password", details: {} } }) });
    render(<Login />);
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "nope" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "Wrong user name or password.");
    expect(loadAuth()).toBeNull();
  });
});

describe("dashboard", () => {
  it("shows health, leader, hosts, VM counts by state and alarms", async () => {
    loginAs();
    const vms = fakeVms(8);
    mockApi({ "/cluster": { ...cluster, health: { ...cluster.health, vms_total: 8, vms_running: 2, vms_error: 2 } }, "/nodes": page(nodes), "/vms": page(vms), "/events": page([{ id: "e1", ts: Date.now() / 1000, kind: "vm.created", message: "VM vm-0 created", level: "info" }]) });
    renderAt("/", { "/": <Dashboard /> });
    expect(await screen.findByText("2/8")).toBeTruthy();
    expect(screen.getByText("h1", { selector: "span.text-lg" })).toBeTruthy();
    const counts = await screen.findByTestId("vm-counts");
    expect(within(counts).getAllByRole("listitem")).toHaveLength(4);
    expect(screen.getByText(/vm-3: boom/)).toBeTruthy(); // an alarm per VM in error
    expect(screen.getByText("VM vm-0 created")).toBeTruthy();
  });
  it("shows an error state with a retry when the API fails", async () => {
    loginAs();
    mockApi({ "/cluster": () => ({ status: 503, body: { code: "no_quorum", message: "no quorum", details: {} } }), "/nodes": page([]), "/vms": page([]), "/events": page([]) });
    renderAt("/", { "/": <Dashboard /> });
    expect(await screen.findByText("no quorum")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
    expect(await screen.findByText("No VMs yet")).toBeTruthy();
  });
});

describe("VM list", () => {
  it("filters by search text and runs a bulk action on the selection", async () => {
    loginAs("operator");
    const api = mockApi({ "/vms": page(fakeVms(30)), "/nodes": page(nodes), "POST /vms/vm00001/stop": { id: "t1", kind: "stop", state: "pending", resource: "vms/vm00001" }, "POST /vms/vm00002/stop": { id: "t2", kind: "stop", state: "pending", resource: "vms/vm00002" } });
    renderAt("/vms", { "/vms": <Vms /> });
    const table = await screen.findByRole("table", { name: "Virtual machines" });
    expect(within(table).getAllByRole("row")).toHaveLength(31);
    fireEvent.change(screen.getByLabelText("Search VMs"), { target: { value: "vm-2" } });
    await waitFor(() => expect(within(table).getAllByRole("row")).toHaveLength(1 + 11)); // vm-2, vm-20..29
    fireEvent.change(screen.getByLabelText("Search VMs"), { target: { value: "" } });
    fireEvent.click(await screen.findByLabelText("Select vm-1"));
    fireEvent.click(screen.getByLabelText("Select vm-2"));
    const bar = screen.getByRole("toolbar", { name: "Bulk actions" });
    expect(within(bar).getByText("2 selected")).toBeTruthy();
    fireEvent.click(within(bar).getByRole("button", { name: /Power off/ }));
    await waitFor(() => expect(api.calls.filter((c) => c.method === "POST").map((c) => c.path).sort()).toEqual(["/vms/vm00001/stop", "/vms/vm00002/stop"]));
  });
  it("shows 1000 VMs a page at a time", async () => {
    loginAs();
    mockApi({ "/vms": page(fakeVms(1000)), "/nodes": page(nodes) });
    renderAt("/vms", { "/vms": <Vms /> });
    const table = await screen.findByRole("table", { name: "Virtual machines" });
    expect(within(table).getAllByRole("row")).toHaveLength(101);
    expect(screen.getByText("1–100 of 1000")).toBeTruthy();
    fireEvent.click(within(screen.getByRole("navigation", { name: "Pages" })).getByRole("button", { name: "Next" }));
    expect(await screen.findByText("101–200 of 1000")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Select all 1000"));
    expect(within(screen.getByRole("toolbar", { name: "Bulk actions" })).getByText("1000 selected")).toBeTruthy();
  });
  it("says when there are no VMs and offers to create one", async () => {
    loginAs();
    mockApi({ "/vms": page([]), "/nodes": page(nodes) });
    renderAt("/vms", { "/vms": <Vms /> });
    expect(await screen.findByText("No virtual machines yet")).toBeTruthy();
  });
  it("hides write actions from viewers", async () => {
    loginAs("viewer");
    mockApi({ "/vms": page(fakeVms(3)), "/nodes": page(nodes) });
    renderAt("/vms", { "/vms": <Vms /> });
    await screen.findByRole("table", { name: "Virtual machines" });
    expect(screen.queryByLabelText(/Select all/)).toBeNull();
    expect(screen.queryByText("New VM")).toBeNull();
  });
});

describe("create wizard", () => {
  it("blocks a bad name, then posts the spec with keys and a hashed password", async () => {
    loginAs();
    const api = mockApi({
      "/vms": page(fakeVms(2)),
      "/nodes": page(nodes),
      "/images": page([{ id: "img1", name: "debian-12", kind: "disk", pool: "local", state: "ready" }]),
      "/pools": page([{ id: "local", path: "/d" }]),
      "/networks": page([{ id: "lan", type: "bridge", bridge: "br0" }]),
      "POST /vms": (c: Call) => ({ status: 201, body: { ...(c.body as object), id: "new1" } }),
    });
    renderAt("/vms/new", { "/vms/new": <VmCreate />, "/vms/:id": <p>detail page</p> });
    const name = await screen.findByLabelText("Name");
    fireEvent.change(name, { target: { value: "vm-1" } });
    await waitFor(() => expect(api.calls.some((c) => c.path === "/vms")).toBe(true));
    await act(async () => {}); // let the VM list land
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByText("A VM with this name already exists.")).toBeTruthy();
    fireEvent.change(name, { target: { value: "web-1" } });
    fireEvent.click(screen.getByRole("button", { name: /Medium/ }));
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    fireEvent.click(await screen.findByRole("button", { name: /Add disk/ }));
    expect((screen.getByLabelText("Disk 1 image") as HTMLSelectElement).value).toBe("img1");
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    fireEvent.click(await screen.findByRole("checkbox", { name: /lan/ }));
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    fireEvent.change(await screen.findByLabelText("SSH public keys"), { target: { value: "ssh-rsa bad" } });
    fireEvent.change(screen.getByLabelText("Password (optional)"), { target: { value: "guestpass1" } });
    fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "guestpass1" } });
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByText(/line 1: the key data is not valid base64/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText("SSH public keys"), { target: { value: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZXJAbGFwdG9wLWV4YW1wbGUta2V5LWRhdGEtMTIzNDU2 me" } });
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    fireEvent.click(await screen.findByRole("button", { name: "Create VM" }));
    expect(await screen.findByText("detail page")).toBeTruthy();
    const body = api.calls.find((c) => c.method === "POST" && c.path === "/vms")!.body as Record<string, any>;
    expect(body).toMatchObject({ name: "web-1", vcpus: 2, memory_mib: 4096, disks: [{ size_gib: 10, image: "img1" }], nics: [{ network: "lan" }], desired: "running" });
    expect(body.cloud_init.ssh_keys).toHaveLength(1);
    expect(body.cloud_init.password_hash).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(JSON.stringify(body)).not.toContain("guestpass1");
  });
});
