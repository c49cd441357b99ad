// Adopting a factory host through the UI with the pairing code on its console.
// Usage: node e2e/adopt.mjs '{"url":"...","password":"...","host":"h2","code":"XXXX-...","artifacts":"dir"}'
// A wrong code is refused (the dialog shows the error, the host stays listed);
// the right one adopts it and it appears among the hosts. Prints "STEP <name>".
import { mkdirSync } from "node:fs";
import { launch } from "./browser.mjs";

const cfg = JSON.parse(process.argv[2]);
mkdirSync(cfg.artifacts, { recursive: true });
const step = (s) => console.log(`STEP ${s}`);
const { ctx, close } = await launch();
const page = ctx.pages()[0] ?? (await ctx.newPage());
const shot = (name) => page.screenshot({ path: `${cfg.artifacts}/${name}.png`, fullPage: true });

try {
  step("login");
  await page.goto(cfg.url);
  await page.getByLabel("Password").fill(cfg.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();

  step("discovered");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Hosts" }).click();
  const item = page.getByRole("listitem").filter({ hasText: cfg.host });
  await item.waitFor({ timeout: 15_000 }).catch(() => page.reload());
  await item.waitFor({ timeout: 60_000 });
  await shot("adopt-01-discovered");

  step("wrong code");
  await item.getByRole("button", { name: "Adopt" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Pairing code").fill("0000-0000-0000-0000");
  await dialog.getByRole("button", { name: "Adopt" }).click();
  await dialog.getByText(/did not prove|wrong pairing code/i).waitFor({ timeout: 30_000 });
  console.log("refused: wrong code");
  await shot("adopt-02-refused");

  step("right code");
  await dialog.getByLabel("Pairing code").fill(cfg.code);
  await dialog.getByRole("button", { name: "Adopt" }).click();
  await dialog.waitFor({ state: "hidden", timeout: 30_000 });
  // The host joins in the background: the table shows it once it has (live
  // updates, or a reload as a fallback).
  const row = page.getByRole("table", { name: "Hosts" }).getByText(cfg.host, { exact: true });
  const deadline = Date.now() + 120_000;
  while (!(await row.isVisible())) {
    if (Date.now() > deadline) throw new Error(`${cfg.host} never appeared among the hosts`);
    await row.waitFor({ timeout: 5_000 }).catch(() => page.reload());
  }
  console.log("adopted");
  await shot("adopt-03-adopted");
  step("done");
} catch (e) {
  console.log(`FAILED ${e?.stack ?? e}`);
  await shot("adopt-failed").catch(() => {});
  await close();
  process.exit(1);
}
await close();
