"""Web UI figures: initial JS size, time to interactive, rendering 1000 VMs.

``python -m bench webui [--json] [--runs N]``

- ``initial_js_gzip_kb``: the JS the first page load needs (the entry script and
  its ``modulepreload`` links in ``webui/dist/index.html``), gzip level 6 (a web
  server's default). Pages, charts and the console load later, on demand.
- ``time_to_interactive_ms``: navigation start to the login form being usable,
  the built UI served on localhost by ``peer.webui_static`` (plain HTTP), a fresh
  browser context per run (empty cache); median of ``--runs``.
- ``dashboard_1000_vms_render_ms``: navigation start to the dashboard showing VM
  counts that add up to 1000, logged in, the API mocked in the browser
  (Playwright's ``page.route``: no network or server cost); median.
- ``vm_list_1000_vms_render_ms``: the same for the VM list (its first page of
  100 rows and the pager saying "of 1000").

Needs ``webui/dist`` (``scripts/setup.sh`` builds it), node and Debian's chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.verdict import Report
from peer.webui_static import add_webui

ROOT = Path(__file__).resolve().parents[1]
WEBUI = ROOT / "webui"
DIST = WEBUI / "dist"
TARGETS = {
    "initial_js_gzip_kb": 300.0,
    "time_to_interactive_ms": None,
    "dashboard_1000_vms_render_ms": 1000.0,
    "vm_list_1000_vms_render_ms": None,
}


def initial_js(dist: Path) -> tuple[float, list[str]]:
    """The gzip size (KiB) of the scripts ``index.html`` loads up front."""
    html = (dist / "index.html").read_text()
    srcs = re.findall(r'<script[^>]+src="([^"]+\.js)"', html)
    srcs += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"', html)
    total = 0
    for src in srcs:
        total += len(gzip.compress((dist / src.lstrip("/")).read_bytes(), compresslevel=6))
    return round(total / 1024, 1), srcs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def browser_figures(runs: int) -> dict[str, Any]:
    app = web.Application()
    add_webui(app, DIST)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        proc = await asyncio.create_subprocess_exec(
            "node",
            "e2e/bench.mjs",
            f"http://127.0.0.1:{port}",
            str(runs),
            cwd=WEBUI,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"bench.mjs failed: {err.decode()[-2000:]}")
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result
    finally:
        await runner.cleanup()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench webui")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    if not (DIST / "index.html").exists():
        print("webui/dist is missing: run scripts/setup.sh first")
        return 1
    kb, files = initial_js(DIST)
    figures: dict[str, Any] = {"initial_js_gzip_kb": kb, "initial_js_files": len(files)}
    b = asyncio.run(browser_figures(args.runs))
    for k in ("time_to_interactive_ms", "dashboard_1000_vms_render_ms"):
        figures[k] = b[k]
    figures["vm_list_1000_vms_render_ms"] = b["vm_list_1000_vms_render_ms"]
    figures["runs"] = b["runs"]
    r = Report("bench webui")
    for k, v in figures.items():
        t = TARGETS.get(k)
        r.figure(k, v, f"<= {t}" if t else None)
    return r.emit(args.json)
