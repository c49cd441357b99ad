// End-to-end: a real browser (Debian's chromium) against a running lab.
// Usage: node e2e/e2e.mjs '{"urls":[...],"password":"...","artifacts":"dir"}'
// Protocol with the driver (tests/webui/test_e2e.py): this script prints
// "KILL <url>" when it wants the peer serving the page killed, and waits for a
// line "KILLED" on stdin. Every step prints "STEP <name>"; failures exit 1.
// cfg.guest (optional): {kernel, initrd, cmdline} — names of kernel/initrd
// images the driver registered, to create the VM by direct kernel boot.
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { launch } from "./browser.mjs";

const cfg = JSON.parse(process.argv[2]);
const out = cfg.artifacts;
mkdirSync(out, { recursive: true });
const stdin = createInterface({ input: process.stdin });
const lines = [];
let waiter = null;
stdin.on("line", (l) => (waiter ? (waiter(l), (waiter = null)) : lines.push(l)));
const nextLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => (waiter = r)));

const step = (s) => console.log(`STEP ${s}`);
const { ctx, close } = await launch();
const page = ctx.pages()[0] ?? (await ctx.newPage());
const errors = [];
page.on("pageerror", (e) => {
  errors.push(String(e));
  console.log(`PAGEERROR ${e}`);
});
page.on("requestfailed", (r) => console.log(`REQFAILED ${r.url()} ${r.failure()?.errorText}`));
const shot = (name, full = true) => page.screenshot({ path: `${out}/${name}.png`, fullPage: full });
const vmName = `e2e-${Date.now().toString(36)}`;

async function canvasLit() {
  return page.evaluate(() => {
    const c = document.querySelector("[data-testid=vnc] canvas");
    if (!c || !c.width || !c.height) return 0;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 150) lit++;
    return lit;
  });
}

try {
  const base = cfg.urls[0];
  step("login");
  await page.goto(base);
  await page.getByLabel("Password").waitFor();
  await shot("01-login");
  await page.getByLabel("Password").fill(cfg.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  await page.getByText(`${cfg.urls.length}/${cfg.urls.length}`, { exact: true }).waitFor({ timeout: 60_000 });
  await page.getByTestId("live").getByText("Live", { exact: true }).waitFor();
  await shot("02-dashboard");

  step("pages");
  for (const [name, label, heading] of [["03-hosts", "Hosts", "Hosts"], ["04-storage", "Storage", "Storage"], ["05-events", "Events & audit", "Events & audit"], ["06-settings", "Settings", "Settings"]]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label }).click();
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
    await page.waitForLoadState("networkidle");
    await shot(name);
  }
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Hosts" }).click();
  await page.getByRole("table", { name: "Hosts" }).getByRole("link").first().click();
  await page.getByRole("heading", { name: "VMs on this host" }).waitFor();
  await shot("07-host-detail");

  step("upload");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Storage" }).click();
  await page.getByRole("heading", { name: "Storage", exact: true }).waitFor();
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  const isoName = `e2e-${Date.now().toString(36)}.iso`;
  // 3 MiB: enough for the bar to move; ISO-looking name so the kind is guessed.
  await page.getByLabel("File").setInputFiles({ name: isoName, mimeType: "application/octet-stream", buffer: Buffer.alloc(3 * 1024 * 1024, 0x51) });
  if ((await page.getByLabel("Kind").inputValue()) !== "iso") throw new Error("the upload was not taken for an ISO");
  await page.getByRole("dialog").getByRole("button", { name: "Upload" }).click();
  await page.getByTestId("upload-result").waitFor({ timeout: 60_000 });
  const result = await page.getByTestId("upload-result").textContent();
  if (!/Ready/.test(result ?? "")) throw new Error(`the upload failed: ${result}`);
  const pct = await page.getByRole("progressbar", { name: "Upload progress" }).getAttribute("aria-valuenow");
  if (pct !== "100") throw new Error(`the progress bar ended at ${pct}%`);
  console.log(`upload: ${result}`);
  await shot("04b-storage-upload-done", false);
  await page.getByRole("dialog").getByRole("button", { name: "Close", exact: true }).last().click();
  const imgRow = page.getByRole("table", { name: "Images" }).getByRole("row").filter({ hasText: isoName });
  await imgRow.getByText("ready", { exact: true }).waitFor({ timeout: 30_000 });
  await shot("04c-storage-image-ready");

  step("certificates");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Certificates" }).click();
  const certs = page.getByRole("table", { name: "Certificates" });
  await certs.waitFor();
  // Every host publishes its certificate with its node record (every 10 s at most).
  const certDeadline = Date.now() + 60_000;
  for (;;) {
    const valid = await certs.getByText("valid", { exact: true }).count();
    if (valid === cfg.urls.length) break;
    if (Date.now() > certDeadline) throw new Error(`${valid} of ${cfg.urls.length} certificates shown valid`);
    await page.waitForTimeout(1000);
    await page.reload();
    await certs.waitFor();
  }
  console.log(`certificates: ${cfg.urls.length} valid`);
  await shot("06b-settings-certificates");

  step("create");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Virtual machines" }).click();
  await page.getByRole("link", { name: "New VM" }).first().click();
  await page.getByLabel("Name").fill(vmName);
  await page.getByRole("button", { name: /Nano/ }).click();
  await shot("08-create-basics");
  const next = async (to) => {
    await page.getByRole("button", { name: "Next" }).click();
    await page.locator("[aria-current=step]").getByText(to).waitFor();
  };
  await next("Disks");
  if (cfg.guest) {
    // A small disk in the lab's shared pool (a running VM's snapshot needs a
    // qcow2 disk for its memory), and the test guest by direct kernel boot.
    await page.getByRole("button", { name: /Add disk/ }).click();
    await page.getByLabel("Disk 1 image").selectOption("");
    await page.getByLabel("Pool").selectOption(cfg.guest.pool);
    await page.getByLabel("Size (GiB)").fill("1");
    await page.getByLabel("Kernel", { exact: true }).selectOption({ label: cfg.guest.kernel });
    await page.getByLabel("Initrd").selectOption({ label: cfg.guest.initrd });
    await page.getByLabel("Kernel command line").fill(cfg.guest.cmdline);
    await shot("08b-create-kernel-boot");
  }
  await next("Network"); // none in the lab
  await next("Cloud-init"); // none
  await next("Review");
  await shot("09-create-review");
  await page.getByRole("button", { name: "Create VM" }).click();
  await page.getByRole("heading", { name: vmName }).waitFor();
  const vmUrl = page.url();

  step("running");
  await page.getByTestId("vm-state").getByText(/^(running|error)$/).waitFor({ timeout: 120_000 });
  if (await page.getByTestId("vm-state").getByText("error").count()) {
    throw new Error(`the VM failed: ${await page.getByTestId("vm-error").textContent()}`);
  }
  await shot("10-vm-running");

  step("console");
  await page.getByRole("link", { name: "console" }).click();
  await page.getByTestId("vnc-state").getByText(/^Connected/).waitFor({ timeout: 30_000 });
  const deadline = Date.now() + 45_000;
  let lit = 0;
  while ((lit = await canvasLit()) < 200) {
    if (Date.now() > deadline) throw new Error(`the console canvas stayed dark (${lit} lit pixels)`);
    await page.waitForTimeout(250);
  }
  console.log(`console lit pixels: ${lit}`);
  await shot("11-vm-console");

  const vmId = new URL(vmUrl).pathname.split("/")[2];
  if (cfg.guest) {
    step("serial");
    // The serial log lives on the VM's host; this peer forwards the read.
    const serialDeadline = Date.now() + 120_000;
    for (;;) {
      const log = await page.evaluate(async (id) => {
        const r = await fetch(`/api/v1/vms/${id}/serial?offset=0&limit=1048576`, { credentials: "same-origin" });
        return r.ok ? (await r.json()).data : `HTTP ${r.status}`;
      }, vmId);
      if (log.includes("QUANTIX-GUEST-READY")) break;
      if (Date.now() > serialDeadline) throw new Error(`no QUANTIX-GUEST-READY in the serial log: ${log.slice(-500)}`);
      await page.waitForTimeout(1000);
    }
    console.log("serial: QUANTIX-GUEST-READY");
  }

  step("snapshots");
  await page.getByRole("link", { name: "snapshots" }).click();
  await page.getByLabel("New snapshot").fill("e2e-snap");
  await page.getByRole("button", { name: "Take snapshot" }).click();
  await page.getByRole("table", { name: "Snapshots" }).getByText(/^e2e-snap/).waitFor({ timeout: 120_000 });
  console.log("snapshot: e2e-snap listed");
  await shot("11b-vm-snapshots");
  // Taking a snapshot pauses the guest for a moment: it must come back running.
  await page.getByRole("link", { name: "summary" }).click();
  const afterSnap = await page.getByTestId("vm-state").textContent();
  if (/error/.test(afterSnap ?? "")) console.log(`after snapshot: error: ${await page.getByTestId("vm-error").textContent().catch(() => "?")}`);
  await page.getByTestId("vm-state").getByText("running", { exact: true }).waitFor({ timeout: 60_000 });
  console.log("after snapshot: running");

  step("stop");
  await page.getByRole("link", { name: "summary" }).click();
  await page.getByRole("button", { name: "Power off" }).click();
  await page.getByTestId("vm-state").getByText("stopped").waitFor({ timeout: 60_000 });
  await shot("12-vm-stopped");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Virtual machines" }).click();
  await page.getByRole("table", { name: "Virtual machines" }).waitFor();
  await shot("13-vms");

  step("failover");
  await page.goto(vmUrl);
  await page.getByRole("heading", { name: vmName }).waitFor();
  const origin = new URL(page.url()).origin;
  console.log(`KILL ${origin}`);
  if ((await nextLine()) !== "KILLED") throw new Error("the driver did not kill the host");
  await page.getByTestId("conn-banner").waitFor({ timeout: 30_000 });
  await shot("14-failover-reconnecting", false);
  await page.waitForURL((u) => u.origin !== origin && cfg.urls.some((x) => x.startsWith(u.origin)), { timeout: 60_000 });
  await page.getByRole("heading", { name: vmName }).waitFor({ timeout: 30_000 });
  await page.getByTestId("conn-banner").getByText("stopped answering").waitFor();
  console.log(`moved to ${new URL(page.url()).origin}`);
  // Carry on through the new host: a write (start the VM) and a list.
  // (The VM may live on the killed host, so it need not run: the write must land.)
  await page.getByRole("button", { name: "Start" }).click();
  await page.getByText("desired: running").waitFor({ timeout: 30_000 });
  await page.getByText(/^start$/).first().waitFor({ timeout: 30_000 });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  await page.waitForLoadState("networkidle");
  await shot("15-failover-dashboard");

  step("themes");
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await shot("16-dashboard-dark");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400); // the sidebar slides away
  await shot("17-dashboard-phone-dark");
  await page.getByRole("button", { name: "Switch to light theme" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Virtual machines" }).click({ force: true }).catch(() => {});
  await page.goto(new URL("/vms", page.url()).href);
  await page.getByRole("table", { name: "Virtual machines" }).waitFor();
  await shot("18-vms-phone");
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  step("done");
} catch (e) {
  console.log(`FAILED ${e && e.message ? e.message : e}`);
  await shot("zz-failure").catch(() => {});
  process.exitCode = 1;
} finally {
  await close();
  stdin.close();
}
