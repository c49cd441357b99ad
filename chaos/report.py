"""Reports anyone can read: ``result.json`` and ``index.html`` (inline SVG, no JS).

The timeline has four bands on one time axis: per host, the faults that hit it
and when it led the cluster (or did not answer); request latency per operation
(colour: ok / failed / unknown); failed and unknown requests per second; and
per VM, the host its QEMU ran on (red: two live copies).
"""

from __future__ import annotations

import html
import itertools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chaos.observer import NOT_EXECUTING
from chaos.runner import RunResult

W, LEFT, RIGHT = 1320, 110, 20
COLORS = {
    "kill9": "#d62728",
    "pause": "#9467bd",
    "peer_crash": "#e377c2",
    "partition": "#ff7f0e",
    "partition_oneway": "#ffbb78",
    "flap": "#8c564b",
    "netem": "#17becf",
    "clock": "#bcbd22",
    "disk_full": "#7f7f7f",
    "power_cycle": "#000000",
}
HOST_COLORS = [
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#d62728",
]
OUTCOME = {"ok": "#2ca02c", "fail": "#d62728", "unknown": "#ff7f0e"}
STATUS = {"pass": "#2ca02c", "fail": "#d62728", "unknown": "#ff7f0e"}


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


class Axis:
    def __init__(self, end: float) -> None:
        self.end = max(end, 1.0)

    def x(self, t: float) -> float:
        return round(LEFT + (W - LEFT - RIGHT) * max(0.0, min(t, self.end)) / self.end, 1)


def _text(
    x: float, y: float, s: str, size: int = 11, anchor: str = "end", fill: str = "#222"
) -> str:
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
        f'font-family="sans-serif">{esc(s)}</text>'
    )


def _rect(
    x0: float, y: float, x1: float, h: float, fill: str, title: str = "", op: float = 1.0
) -> str:
    t = f"<title>{esc(title)}</title>" if title else ""
    return (
        f'<rect x="{x0}" y="{y}" width="{max(1.0, round(x1 - x0, 1))}" height="{h}" '
        f'fill="{fill}" fill-opacity="{op}">{t}</rect>'
    )


def time_grid(ax: Axis, y0: float, y1: float) -> list[str]:
    step = 10 if ax.end <= 200 else 30 if ax.end <= 900 else 120
    out = []
    t = 0.0
    while t <= ax.end:
        x = ax.x(t)
        out.append(f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="#ddd"/>')
        out.append(_text(x, y1 + 12, f"{t:g}s", 10, "middle", "#555"))
        t += step
    return out


def host_band(res: RunResult, ax: Axis, y: float) -> tuple[list[str], float]:
    hosts = sorted(
        {h for s in res.history["samples"] if s["kind"] == "roles" for h in s["data"]["hosts"]},
        key=lambda h: int(h[1:]) if h[1:].isdigit() else 0,
    )
    out = [_text(10, y - 4, "hosts: faults (bars), leader (green), no answer (grey)", 12, "start")]
    row = 22
    roles = [s for s in res.history["samples"] if s["kind"] == "roles"]
    for i, h in enumerate(hosts):
        yy = y + i * row
        out.append(_text(LEFT - 6, yy + 14, h))
        out.append(_rect(LEFT, yy, W - RIGHT, row - 4, "#f4f4f4"))
        for a, b in itertools.pairwise(roles):
            v = a["data"]["hosts"].get(h)
            if v is None:
                out.append(_rect(ax.x(a["t"]), yy + 12, ax.x(b["t"]), 6, "#999", f"{h} no answer"))
            elif v.get("role") == "leader":
                out.append(_rect(ax.x(a["t"]), yy + 12, ax.x(b["t"]), 6, "#2ca02c", f"{h} leader"))
        for f in res.faults:
            if h in f["hosts"]:
                label = (
                    f"{f['kind']} {f.get('params') or ''} {f['start']:.1f}-{f.get('end', 0):.1f}s"
                )
                out.append(
                    _rect(
                        ax.x(f["start"]),
                        yy,
                        ax.x(f.get("end", ax.end)),
                        11,
                        COLORS.get(f["kind"], "#333"),
                        label,
                    )
                )
    return out, y + len(hosts) * row


def latency_band(res: RunResult, ax: Axis, y: float, h: float = 150) -> tuple[list[str], float]:
    ops = [o for o in res.history["ops"] if o["end"] is not None and o["type"] != "invoke"]
    out = [
        _text(
            10,
            y - 4,
            "request latency (log scale; green ok, red failed, orange unknown)",
            12,
            "start",
        )
    ]
    out.append(_rect(LEFT, y, W - RIGHT, h, "#fafafa"))
    lo, hi = math.log10(0.001), math.log10(20.0)
    for v in (0.01, 0.1, 1.0, 10.0):
        yy = y + h - h * (math.log10(v) - lo) / (hi - lo)
        out.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{W - RIGHT}" y2="{yy:.1f}" stroke="#e5e5e5"/>'
        )
        out.append(_text(LEFT - 6, yy + 4, f"{v:g}s", 10))
    for o in ops:
        lat = max(0.001, o["end"] - o["start"])
        yy = y + h - h * (min(math.log10(lat), hi) - lo) / (hi - lo)
        out.append(
            f'<circle cx="{ax.x(o["end"])}" cy="{yy:.1f}" r="1.6" '
            f'fill="{OUTCOME.get(o["type"], "#333")}" fill-opacity="0.6"/>'
        )
    return out, y + h


def error_band(res: RunResult, ax: Axis, y: float, h: float = 70) -> tuple[list[str], float]:
    ops = [o for o in res.history["ops"] if o["type"] != "invoke"]
    n = int(ax.end) + 1
    ok, bad = [0] * n, [0] * n
    for o in ops:
        i = min(n - 1, int(o["start"]))
        (ok if o["type"] == "ok" else bad)[i] += 1
    top = max([a + b for a, b in zip(ok, bad, strict=False)] + [1])
    out = [_text(10, y - 4, "requests per second (grey ok, red failed or unknown)", 12, "start")]
    out.append(_rect(LEFT, y, W - RIGHT, h, "#fafafa"))
    for i in range(n):
        x0, x1 = ax.x(i), ax.x(i + 1)
        hb, ho = h * bad[i] / top, h * ok[i] / top
        if ok[i]:
            out.append(_rect(x0, y + h - ho - hb, x1, ho, "#bbb", f"{i}s: {ok[i]} ok"))
        if bad[i]:
            out.append(_rect(x0, y + h - hb, x1, hb, "#d62728", f"{i}s: {bad[i]} failed/unknown"))
    out.append(_text(LEFT - 6, y + 10, f"{top}/s", 10))
    return out, y + h


def vm_band(res: RunResult, ax: Axis, y: float) -> tuple[list[str], float]:
    qemu = [s for s in res.history["samples"] if s["kind"] == "qemu"]
    hosts = sorted({h for s in qemu for h in s["data"]["hosts"]})
    color = {h: HOST_COLORS[i % len(HOST_COLORS)] for i, h in enumerate(hosts)}
    vms = list(res.ha_vms)
    others = sorted({vm for s in qemu for v in s["data"]["hosts"].values() for vm in v} - set(vms))
    vms += others[:12]
    legend = " ".join(f"{h}" for h in hosts)
    out = [
        _text(
            10,
            y - 4,
            f"VM placements (colour = host: {legend}; red = two live copies)",
            12,
            "start",
        )
    ]
    for i, h in enumerate(hosts):
        out.append(
            _rect(
                W - RIGHT - 60 * (len(hosts) - i),
                y - 14,
                W - RIGHT - 60 * (len(hosts) - i) + 14,
                10,
                color[h],
            )
        )
        out.append(_text(W - RIGHT - 60 * (len(hosts) - i) + 18, y - 5, h, 10, "start"))
    row = 16
    for j, vm in enumerate(vms):
        yy = y + j * row
        name = res.ha_vms.get(vm, vm[:10])
        out.append(_text(LEFT - 6, yy + 11, name, 10))
        out.append(_rect(LEFT, yy, W - RIGHT, row - 3, "#f4f4f4"))
        for a, b in itertools.pairwise(qemu):
            hosts = a["data"]["hosts"].items()
            where = [h for h, v in hosts if vm in v and v[vm][1] not in NOT_EXECUTING]
            if len(where) >= 2 and vm in (a["data"].get("doubles") or {}):
                out.append(
                    _rect(ax.x(a["t"]), yy, ax.x(b["t"]), row - 3, "#ff0000", f"{vm} on {where}")
                )
            elif where:
                out.append(
                    _rect(
                        ax.x(a["t"]),
                        yy + 2,
                        ax.x(b["t"]),
                        row - 7,
                        color[where[0]],
                        f"{name} on {where[0]}",
                    )
                )
    return out, y + len(vms) * row


def timeline_svg(res: RunResult) -> str:
    end = max(
        [o["end"] or o["start"] for o in res.history["ops"]]
        + [s["t"] for s in res.history["samples"]]
        + [1.0]
    )
    ax = Axis(end)
    parts: list[str] = []
    y = 24.0
    for band in (host_band, latency_band, error_band, vm_band):
        got, y = band(res, ax, y)
        parts += got
        y += 40
    top = 10.0
    parts = time_grid(ax, top, y - 30) + parts
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{int(y)}" '
        f'viewBox="0 0 {W} {int(y)}">' + "".join(parts) + "</svg>"
    )


def fault_legend() -> str:
    return " ".join(
        f'<span style="background:{c};color:#fff;padding:1px 5px;margin:2px;'
        f'border-radius:3px;font-size:12px">{esc(k)}</span>'
        for k, c in COLORS.items()
    )


def verdict_rows(verdicts: Iterable[dict[str, Any]]) -> str:
    rows = []
    for v in verdicts:
        ev = json.dumps(v["evidence"], indent=1, default=str)
        if len(ev) > 20000:
            ev = ev[:20000] + "\n... (cut; full evidence in result.json)"
        rows.append(
            f'<tr><td><b>{esc(v["checker"])}</b></td><td style="color:#fff;background:'
            f'{STATUS.get(v["status"], "#333")};text-align:center">{esc(v["status"])}</td>'
            f"<td>{esc(v['summary'])}<details><summary>evidence</summary><pre>{esc(ev)}</pre>"
            "</details></td></tr>"
        )
    return "".join(rows)


CSS = (
    "body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px}"
    "pre{font-size:11px;max-height:300px;overflow:auto}"
)


def phase_table(res: RunResult) -> str:
    av = next((v for v in res.verdicts if v["checker"] == "availability"), None)
    if av is None:
        return "<p>(no availability verdict)</p>"
    cols = [
        ("phase", "name"),
        ("start s", "start"),
        ("end s", "end"),
        ("requests", "requests"),
        ("ok", "ok"),
        ("refused (4xx)", "refused_4xx"),
        ("unreachable", "unreachable"),
        ("timed out / 5xx", "timed_out_or_5xx"),
        ("unavailable fraction", "failed_fraction"),
        ("majority side", "majority"),
        ("majority longest gap s", "majority_max_unavailable_s"),
    ]
    head = [c for c, _ in cols]
    rows = []
    for p in av["evidence"].get("phases", []):
        cells = []
        for _, k in cols:
            v = p.get(k, "-")
            if isinstance(v, float) and k in ("start", "end"):
                v = f"{v:.1f}"
            elif isinstance(v, list):
                v = ", ".join(str(x) for x in v)
            cells.append(v)
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    return (
        "<table><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )


def render_html(res: RunResult) -> str:
    c = res.config
    fig = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in res.figures.items())
    faults = "".join(
        f"<tr><td>{f['start']:.1f}</td><td>{f.get('end', 0):.1f}</td><td>{esc(f['kind'])}</td>"
        f"<td>{esc(', '.join(f['hosts']))}</td>"
        f"<td>{esc(json.dumps(f.get('params') or f.get('groups') or {}))}</td>"
        f"<td>{esc('; '.join(f.get('notes') or []))}</td></tr>"
        for f in res.faults
    )
    err = f'<p style="color:#d62728"><b>run error:</b> {esc(res.error)}</p>' if res.error else ""
    logs = "".join(
        f"<h3>{esc(h)}: the end of its peer log</h3><pre>{esc(chr(10).join(t))}</pre>"
        for h, t in res.host_logs.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>chaos {esc(c['scenario'])}</title><style>{CSS}</style></head><body>"
        f"<h1>Chaos run: {esc(c['scenario'])} — "
        f"<span style='color:{STATUS.get(res.status, '#333')}'>"
        f"{esc(res.status.upper())}</span></h1>"
        f"<p>{c['nodes']} hosts, seed <b>{c['seed']}</b> (replay: <code>quantix chaos run "
        f"{esc(c['scenario'])} --nodes {c['nodes']} --duration {c['duration']:g} --seed {c['seed']}"
        f"</code>), fault kinds: {esc(', '.join(c['kinds']))}</p>{err}"
        f"<h2>Timeline</h2><p>{fault_legend()}</p>{timeline_svg(res)}"
        f"<h2>Checkers</h2><table><tr><th>checker</th><th>verdict</th><th>what it saw</th></tr>"
        f"{verdict_rows(res.verdicts)}</table>"
        f"<h2>Availability per phase</h2>{phase_table(res)}"
        f"<h2>Figures</h2><table>{fig}</table>{logs}"
        f"<h2>Faults</h2><table><tr><th>start s</th><th>end s</th><th>kind</th><th>hosts</th>"
        f"<th>parameters</th><th>notes</th></tr>{faults}</table>"
        "</body></html>"
    )


def write_report(res: RunResult, folder: Path) -> None:
    """result.json first: the HTML page is drawn from it, and a drawing bug loses nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(res.to_json(), default=str))
    try:
        page = render_html(res)
    except Exception as e:  # the verdicts stand; say why there is no picture
        page = f"<!doctype html><p>cannot draw this report ({esc(repr(e))}); see result.json</p>"
    (folder / "index.html").write_text(page)


CHECKERS = [
    "linearizable",
    "reads_written",
    "sets",
    "double_run",
    "ha",
    "convergence",
    "availability",
]


def summary_table(results: list[RunResult]) -> tuple[list[str], list[list[str]]]:
    head = ["scenario", "faults", *CHECKERS, "max_unavailable_s", "ha_recovery_p99_s"]
    rows = []
    for r in results:
        by = {v["checker"]: v["status"] for v in r.verdicts}
        rows.append(
            [
                r.config["scenario"],
                str(r.figures.get("faults_injected")),
                *[by.get(k, "error" if r.error else "-") for k in CHECKERS],
                str(r.figures.get("max_unavailable_s")),
                str(r.figures.get("ha_recovery_p99_s")),
            ]
        )
    return head, rows


def write_summary(results: list[RunResult], out: Path) -> None:
    head, rows = summary_table(results)
    (out / "summary.json").write_text(
        json.dumps(
            [
                {
                    "scenario": r.config["scenario"],
                    "status": r.status,
                    "seed": r.config["seed"],
                    "nodes": r.config["nodes"],
                    "figures": r.figures,
                    "error": r.error,
                    "verdicts": {v["checker"]: v["status"] for v in r.verdicts},
                }
                for r in results
            ],
            indent=1,
        )
    )
    cells = "".join(
        "<tr>"
        + "".join(
            f'<td style="background:{STATUS.get(c, "#fff") if c in STATUS else "#fff"};'
            f'color:{"#fff" if c in STATUS else "#222"}">'
            + (
                f'<a style="color:inherit" href="{esc(c)}/index.html">{esc(c)}</a>'
                if i == 0
                else esc(c)
            )
            + "</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    (out / "index.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>chaos summary</title>"
        f"<style>{CSS}</style></head><body><h1>Chaos runs</h1><table><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + f"</tr>{cells}</table></body></html>"
    )


def markdown_table(summary: list[dict[str, Any]]) -> str:
    """Scenarios x checkers as a Markdown table, from a ``summary.json``."""
    head = ["scenario", "faults", *CHECKERS, "max unavail. s", "HA p99 s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        f = s["figures"]
        cells = [
            s["scenario"],
            str(f.get("faults_injected")),
            *[s["verdicts"].get(k, "error" if s.get("error") else "-") for k in CHECKERS],
            str(f.get("max_unavailable_s")),
            str(f.get("ha_recovery_p99_s")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_results(folder: Path) -> list[RunResult]:
    """Every scenario's result.json under ``folder`` (e.g. runs written by several commands)."""
    return [RunResult(**json.loads(p.read_text())) for p in sorted(folder.glob("*/result.json"))]
