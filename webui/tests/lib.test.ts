import { describe, expect, it } from "vitest";
import { passwordProblem, sshKeyProblems, sshKeys, vmNameProblem } from "../src/lib/validate";
import { countByState, filterVms, vmState } from "../src/lib/vmfilter";
import { sha512crypt } from "../src/lib/crypt";
import { bytes, ago } from "../src/lib/format";
import { keysFor } from "../src/api/live";
import { memUsed } from "../src/lib/hosts";
import { fakeVms } from "./mockapi";
import type { Vm } from "../src/api/types";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZXJAbGFwdG9wLWV4YW1wbGUta2V5LWRhdGEtMTIzNDU2 me@laptop";

describe("validation", () => {
  it("accepts DNS-like VM names and refuses others with a reason", () => {
    expect(vmNameProblem("web-1")).toBeNull();
    expect(vmNameProblem("")).toMatch(/required/);
    expect(vmNameProblem("Web_1")).toMatch(/Lowercase/);
    expect(vmNameProblem("-web")).toMatch(/dash/);
    expect(vmNameProblem("web-1", ["web-1"])).toMatch(/already exists/);
  });
  it("flags bad SSH key lines by number and keeps good ones", () => {
    expect(sshKeyProblems(`${KEY}\n\n# comment`)).toEqual([]);
    expect(sshKeyProblems(`${KEY}\nssh-foo AAAA\nssh-rsa not*base64`)).toEqual([
      { line: 2, problem: 'unknown key type "ssh-foo"' },
      { line: 3, problem: "the key data is not valid base64" },
    ]);
    expect(sshKeys(`${KEY}\n# x\n  \n`)).toEqual([KEY]);
  });
  it("wants guest passwords long, mixed and confirmed", () => {
    expect(passwordProblem("", "")).toBeNull();
    expect(passwordProblem("short1", "short1")).toMatch(/8/);
    expect(passwordProblem("longpassword", "longpassword")).toMatch(/letters and digits/);
    expect(passwordProblem("longpass123", "longpass124")).toMatch(/differ/);
    expect(passwordProblem("longpass123", "longpass123")).toBeNull();
  });
});

describe("sha512crypt", () => {
  // Reference values from glibc crypt(3) (Python's crypt module).
  it("matches glibc for a 16-character salt", async () => {
    expect(await sha512crypt("hunter2pass", "saltsaltsalt12")).toBe(
      "$6$saltsaltsalt12$5to29Xf/NqydvG86zbP/G3eW8.2r6LubIqMgmtxb8ekktjG8BngQCXvtQuHpFlj4d25i481gyP1eebQR8zDCe1",
    );
  });
  it("matches glibc for a password longer than 64 bytes", async () => {
    expect(await sha512crypt("x".repeat(70), "ab")).toBe(
      "$6$ab$pWR1UD3a0xtawrhzK7aur8QQZL8ZBygJ39zGZlWYnxHrKXcb.5/71jgiq9.sKiypHLphRR4.cdIV8Hw.AJziB/",
    );
  });
});

describe("VM table logic", () => {
  const vms = fakeVms(12) as Vm[];
  it("searches names, filters by state and host, sorts both ways", () => {
    expect(filterVms(vms, { q: "vm-1", state: "", host: "", sort: "name", dir: "asc" }).map((v) => v.name)).toEqual(["vm-1", "vm-10", "vm-11"]);
    expect(filterVms(vms, { q: "", state: "error", host: "", sort: "name", dir: "asc" }).every((v) => vmState(v) === "error")).toBe(true);
    expect(filterVms(vms, { q: "", state: "", host: "n1", sort: "name", dir: "asc" })).toHaveLength(4);
    const byMem = filterVms(vms, { q: "", state: "", host: "", sort: "memory_mib", dir: "desc" });
    expect(byMem[0]!.memory_mib).toBe(Math.max(...vms.map((v) => v.memory_mib)));
  });
  it("counts VMs by observed state; a VM nobody reported yet is pending", () => {
    const extra = { id: "x", name: "new", vcpus: 1, memory_mib: 64, desired: "running", status: null } as Vm;
    expect(countByState([...vms, extra])).toEqual({ running: 3, stopped: 3, paused: 3, error: 3, pending: 1 });
  });
});

describe("small helpers", () => {
  it("formats sizes and ages", () => {
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(10 * 1024 ** 3)).toBe("10.0 GiB");
    expect(ago(100, 160)).toBe("1m ago");
  });
  it("knows which queries an event makes stale", () => {
    const k = keysFor({ kind: "vm.started", resource: "vms", resource_id: "abc" }).map((x) => x.join("/"));
    expect(k).toEqual(expect.arrayContaining(["vms", "vm/abc", "cluster", "events"]));
    expect(keysFor({ kind: "node.joined", resource: "nodes" }).map((x) => x.join("/"))).toContain("nodes");
  });
  it("reads an unreported free-memory figure as unknown", () => {
    expect(memUsed({ id: "n", resources: { memory_mib: 1000, memory_free_mib: 0 } })).toBeNull();
    expect(memUsed({ id: "n", resources: { memory_mib: 1000, memory_free_mib: 256 } })).toBe(744);
  });
});
