import { describe, expect, it } from "vitest";
import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import VmCreate from "../src/pages/VmCreate";
import { mockApi, nodes, page, type Call } from "./mockapi";
import { loginAs, renderAt } from "./render";

describe("create wizard: direct kernel boot", () => {
  it("offers kernel and initrd images and posts them with the command line", async () => {
    loginAs();
    const api = mockApi({
      "/vms": page([]),
      "/nodes": page(nodes),
      "/images": page([
        { id: "k1", name: "vmlinuz", kind: "kernel", pool: "lab", state: "ready" },
        { id: "r1", name: "initrd", kind: "initrd", pool: "lab", state: "ready" },
      ]),
      "/pools": page([{ id: "lab", path: "/d" }]),
      "/networks": page([]),
      "POST /vms": (c: Call) => ({ status: 201, body: { ...(c.body as object), id: "new1" } }),
    });
    renderAt("/vms/new", { "/vms/new": <VmCreate />, "/vms/:id": <p>detail page</p> });
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "guest-1" } });
    await waitFor(() => expect(api.calls.some((c) => c.path === "/images")).toBe(true));
    await act(async () => {});
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    // Kernels and initrds are not disk images.
    fireEvent.click(await screen.findByRole("button", { name: /Add disk/ }));
    expect((screen.getByLabelText("Disk 1 image") as HTMLSelectElement).value).toBe("");
    fireEvent.click(screen.getByRole("button", { name: "Remove disk 1" }));
    fireEvent.change(screen.getByLabelText("Kernel"), { target: { value: "k1" } });
    fireEvent.change(screen.getByLabelText("Initrd"), { target: { value: "r1" } });
    fireEvent.change(screen.getByLabelText("Kernel command line"), { target: { value: "console=ttyS0" } });
    for (const to of ["Network", "Cloud-init", "Review"]) {
      fireEvent.click(screen.getByRole("button", { name: "Next" }));
      await screen.findByText(to, { selector: "[aria-current=step] *, [aria-current=step]" });
    }
    expect(screen.getByText(/kernel vmlinuz/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Create VM" }));
    await waitFor(() => expect(api.calls.some((c) => c.method === "POST")).toBe(true));
    expect(api.calls.find((c) => c.method === "POST")!.body).toMatchObject({ kernel: "k1", initrd: "r1", cmdline: "console=ttyS0", disks: [] });
  });
});
