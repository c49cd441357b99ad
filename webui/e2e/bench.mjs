// Front-end figures against the built UI served on localhost, the API mocked in
// the browser (page.route): `node e2e/bench.mjs BASE_URL [RUNS]` prints one JSON object.
import { launchBrowser } from "./browser.mjs";

const [base, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg ?? 5);
const N = 1000;
const now = Date.now() / 1000;
const states = ["running", "running", "running", "stopped", "paused", "error"];
const vms = Array.from({ length: N }, (_, i) => ({
  id: `vm${String(i).padStart(5, "0")}`, name: `vm-${i}`, vcpus: 1 + (i % 4), memory_mib: 512 * (1 + (i % 8)),
  desired: states[i % 6] === "error" ? "running" : states[i % 6], placement: `n${i % 3}`,
  status: { node: `n${i % 3}`, state: states[i % 6], error: states[i % 6] === "error" ? "disk missing" : null },
  created_at: now - i, version: 1, revision: i,
}));
const nodes = [0, 1, 2].map((i) => ({ id: `n${i}`, hostname: `h${i + 1}`, address: `10.0.0.${i + 2}`, api_port: 8443, state: "active", voter: true, resources: { cpus: 32, memory_mib: 262144, memory_free_mib: 131072 } }));
const cluster = {
  name: "bench", leader: "n0", term: 2, revision: 5000,
  members: nodes.map((n, i) => ({ node_id: n.id, hostname: n.hostname, address: n.address, state: "active", leader: i === 0, voter: true, lease_age_s: 0.4 })),
  health: { status: "healthy", has_quorum: true, nodes_total: 3, nodes_active: 3, vms_total: N, vms_running: 500, vms_error: 166 },
};
const events = Array.from({ length: 50 }, (_, i) => ({ id: `e${i}`, ts: now - i * 7, kind: "vm.state", resource: "vms", resource_id: vms[i].id, node: "n1", message: `VM vm-${i} is running`, level: "info", user: null }));
const page1 = (items) => ({ items, next_cursor: null, revision: 5000 });
const routes = { "/cluster": cluster, "/nodes": page1(nodes), "/vms": page1(vms), "/events": page1(events), "/health": { status: "ok" }, "/tasks": page1([]) };

async function context(browser, loggedIn) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  await ctx.route("**/api/v1/**", (route) => {
    const path = new URL(route.request().url()).pathname.replace("/api/v1", "");
    const body = routes[path];
    return route.fulfill(body ? { json: body } : { status: 404, json: { code: "not_found", message: path, details: {} } });
  });
  if (loggedIn)
    await ctx.addInitScript(() => sessionStorage.setItem("qx-auth", JSON.stringify({ user: "admin", role: "admin", via: "token", token: "qx_x_y" })));
  return ctx;
}

async function measure(browser, loggedIn, path, ready) {
  const ctx = await context(browser, loggedIn);
  try {
    const page = await ctx.newPage();
    await page.goto(base + path, { waitUntil: "commit" });
    const t = await page.waitForFunction(ready, N, { polling: "raf", timeout: 30_000 });
    return Math.round(await t.jsonValue());
  } finally {
    await ctx.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const browser = await launchBrowser();
try {
  const out = { tti: [], dash: [], table: [] };
  // Warm the OS page cache and chromium once; not counted.
  await measure(browser, false, "/", () => { const el = document.querySelector("#password"); return el && !el.disabled ? performance.now() : false; });
  for (let i = 0; i < RUNS; i++) {
    out.tti.push(await measure(browser, false, "/", () => { const el = document.querySelector("#password"); return el && !el.disabled ? performance.now() : false; }));
    out.dash.push(await measure(browser, true, "/", (n) => {
      const ul = document.querySelector("[data-testid=vm-counts]");
      if (!ul) return false;
      const total = [...ul.querySelectorAll("li span.tabular-nums")].reduce((s, x) => s + Number(x.textContent), 0);
      return total === n ? performance.now() : false;
    }));
    // The VM list shows the first page (100 rows) of the 1000, with the pager.
    out.table.push(await measure(browser, true, "/vms", (n) => (document.querySelectorAll("tr[data-vm]").length === 100 && document.body.textContent.includes(`of ${n}`) ? performance.now() : false)));
  }
  console.log(JSON.stringify({ runs: RUNS, time_to_interactive_ms: median(out.tti), dashboard_1000_vms_render_ms: median(out.dash), vm_list_1000_vms_render_ms: median(out.table), samples: out }));
} finally {
  await browser.close();
}
