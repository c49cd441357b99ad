import { describe, expect, it } from "vitest";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import VmDetail from "../src/pages/VmDetail";
import { splitArgs } from "../src/components/GuestAgent";
import { mockApi, nodes, page, type Call } from "./mockapi";
import { loginAs, renderAt } from "./render";

const vm = {
  id: "v1",
  name: "web-1",
  vcpus: 1,
  memory_mib: 512,
  desired: "running",
  placement: "n1",
  version: 3,
  nics: [{ network: "lan", ip: "10.0.0.5" }],
  status: {
    node: "n1",
    state: "running",
    agent: {
      connected: true,
      version: "1.0.0",
      os: { name: "Debian GNU/Linux 12", kernel: "6.1.0" },
      hostname: "web-1",
      ips: ["10.0.0.5", "2001:db8::5"],
      booted_at: Date.now() / 1000 - 3700,
      memory: { total_mib: 2000, used_mib: 500 },
      filesystems: [{ mount: "/", fs: "ext4", total_mib: 10000, used_mib: 2000 }],
    },
  },
};

describe("the guest agent on the VM page", () => {
  it("shows the agent's report and runs a command", async () => {
    loginAs("operator");
    const { calls } = mockApi({
      "/vms/v1": vm,
      "/nodes": page(nodes),
      "/tasks": page([]),
      "POST /vms/v1/agent/exec": { exit_code: 0, stdout: "Linux web-1\n", stderr: "", truncated: false, timed_out: false },
    });
    renderAt("/vms/v1/guest", { "/vms/:id/:tab": <VmDetail /> });
    expect((await screen.findByTestId("agent-ips")).textContent).toBe("10.0.0.5, 2001:db8::5");
    expect(screen.getByText("Debian GNU/Linux 12")).toBeTruthy();
    expect(screen.getByText("1h 1m")).toBeTruthy();
    fireEvent.change(screen.getByPlaceholderText("uname -a"), { target: { value: "uname -n" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    expect((await screen.findByTestId("exec-result")).textContent).toContain("Linux web-1");
    const exec = calls.find((c: Call) => c.method === "POST" && c.path === "/vms/v1/agent/exec");
    expect(exec?.body).toEqual({ command: ["sh", "-c", "uname -n"], timeout_s: 30 });
  });

  it("says why there is no agent, and offers no controls", async () => {
    loginAs("operator");
    mockApi({
      "/vms/v1": { ...vm, status: { ...vm.status, agent: { connected: false, reason: "no agent answers in the guest" } } },
      "/nodes": page(nodes),
      "/tasks": page([]),
    });
    renderAt("/vms/v1/guest", { "/vms/:id/:tab": <VmDetail /> });
    expect(await screen.findByText("no agent answers in the guest")).toBeTruthy();
    await waitFor(() => expect(screen.queryByRole("button", { name: "Run" })).toBeNull());
  });

  it("splits a command line into argv", () => {
    expect(splitArgs(`ls -l "/tmp/a b" 'x'`)).toEqual(["ls", "-l", "/tmp/a b", "x"]);
  });
});
