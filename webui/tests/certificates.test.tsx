import { describe, expect, it } from "vitest";
import { fireEvent, screen, within } from "@testing-library/react";
import Settings from "../src/pages/Settings";
import { expiryWarning } from "../src/components/Certificates";
import type { Certificate } from "../src/api/types";
import { mockApi, page } from "./mockapi";
import { loginAs, renderAt } from "./render";

const now = Date.now() / 1000;
const cert = (node_id: string, days_left: number, status: Certificate["status"]): Certificate => ({
  node_id,
  hostname: `host-${node_id}`,
  address: "10.0.0.1",
  published: true,
  subject: `CN=host-${node_id}`,
  san: ["DNS:localhost", "IP:10.0.0.1"],
  sha256: "AB:CD:EF",
  not_before: now - 86400,
  not_after: now + days_left * 86400,
  days_left,
  self_signed: true,
  status,
});

describe("certificates", () => {
  it("lists each host's certificate in the Settings tab and warns about expiry", async () => {
    loginAs("viewer");
    mockApi({
      "/tokens": page([]),
      "/cluster/certificates": {
        items: [cert("n1", 3600, "ok"), cert("n2", 5, "expiring"), { node_id: "n3", published: false, san: [], status: "unknown" }],
        warning_days: 30,
      },
    });
    renderAt("/settings", { "/settings": <Settings />, "/settings/:tab": <Settings /> });
    fireEvent.click(await screen.findByRole("link", { name: "Certificates" }));
    const table = await screen.findByRole("table", { name: "Certificates" });
    const row = within(table).getByText("host-n2").closest("tr")!;
    expect(within(row).getByText("expires soon")).toBeTruthy();
    expect(within(row).getByText("expires in 5 day(s)")).toBeTruthy();
    expect(within(table).getAllByText("AB:CD:EF")).toHaveLength(2);
    expect(within(table).getByText("not published")).toBeTruthy();
    expect(screen.getByRole("alert").textContent).toContain("host-n2 (expires soon)");
  });

  it("says nothing when every certificate is fine", () => {
    expect(expiryWarning([cert("n1", 100, "ok")], 30)).toBeNull();
    expect(expiryWarning([cert("n1", -2, "expired")], 30)).toContain("host-n1 (expired)");
  });
});
