/** The VM's guest agent: what it reports, and the operator's controls (run a
 * command, set a password). The API runs both on the VM's host (docs/agent.md). */
import { useState } from "react";
import { errorText } from "../api/client";
import { agentExec, agentPassword, useWrite } from "../api/queries";
import type { ExecResult, Vm } from "../api/types";
import { mib } from "../lib/format";
import { Button, Card, Empty, StateBadge, Table, td, th } from "./ui";

const input = "rounded-md border border-zinc-300 bg-transparent px-2 py-1 dark:border-zinc-700";

function uptime(bootedAt?: number | null): string {
  if (!bootedAt) return "—";
  const s = Math.max(0, Math.round(Date.now() / 1000 - bootedAt));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

export function AgentReport({ vm }: { vm: Vm }) {
  const a = vm.status?.agent;
  if (!a?.connected) {
    return (
      <Card title="Guest agent">
        <Empty title="No guest agent connected" hint={a?.reason ?? "Install the Quantix agent in the guest (docs/agent.md): its IPs, usage and graceful shutdown need it."} />
      </Card>
    );
  }
  const ipam = (vm.nics ?? []).map((n) => n.ip).filter(Boolean) as string[];
  const mem = a.memory ?? {};
  return (
    <Card title="Guest agent">
      <dl className="grid grid-cols-[8rem_minmax(0,1fr)] gap-y-2" data-testid="agent-report">
        <dt className="text-zinc-500">Agent</dt>
        <dd><StateBadge state="connected" /> <span className="text-xs text-zinc-500">version {a.version}</span></dd>
        <dt className="text-zinc-500">OS</dt>
        <dd>{a.os?.name ?? "—"} <span className="text-xs text-zinc-500">{a.os?.kernel}</span></dd>
        <dt className="text-zinc-500">Hostname</dt>
        <dd>{a.hostname || "—"}</dd>
        <dt className="text-zinc-500">IPs (guest)</dt>
        <dd className="font-mono text-xs" data-testid="agent-ips">{(a.ips ?? []).join(", ") || "—"}</dd>
        <dt className="text-zinc-500">IPs (network)</dt>
        <dd className="font-mono text-xs">{ipam.join(", ") || "—"}</dd>
        <dt className="text-zinc-500">Uptime</dt>
        <dd>{uptime(a.booted_at)}</dd>
        <dt className="text-zinc-500">Memory used</dt>
        <dd>{mem.total_mib ? `${mib(mem.used_mib ?? 0)} of ${mib(mem.total_mib)}` : "—"}</dd>
        {a.frozen ? (<><dt className="text-zinc-500">File systems</dt><dd className="text-amber-600">frozen (a snapshot is being taken)</dd></>) : null}
      </dl>
      {(a.filesystems ?? []).length > 0 && (
        <div className="mt-4">
          <Table label="Guest file systems">
            <thead><tr><th className={th}>Mount</th><th className={th}>Type</th><th className={th}>Used</th></tr></thead>
            <tbody>
              {(a.filesystems ?? []).map((f) => (
                <tr key={f.mount}><td className={td}>{f.mount}</td><td className={td}>{f.fs}</td><td className={td}>{mib(f.used_mib)} of {mib(f.total_mib)}</td></tr>
              ))}
            </tbody>
          </Table>
        </div>
      )}
    </Card>
  );
}

/** Splits a command line into argv: whitespace separates, quotes group. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2] ?? m[3] ?? "");
  return out;
}

export function RunCommand({ vm }: { vm: Vm }) {
  const [line, setLine] = useState("");
  const [shell, setShell] = useState(true);
  const [result, setResult] = useState<ExecResult | null>(null);
  const run = useWrite((argv: string[]) => agentExec(vm.id, argv, 30), [["events"]]);
  const argv = shell ? ["sh", "-c", line] : splitArgs(line);
  return (
    <Card title="Run a command in the guest">
      <form
        className="flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          if (line.trim()) run.mutate(argv, { onSuccess: (r) => setResult(r as ExecResult) });
        }}
      >
        <label className="flex min-w-64 flex-1 flex-col gap-1 text-sm">
          <span>Command</span>
          <input className={`${input} font-mono`} value={line} onChange={(e) => setLine(e.target.value)} placeholder="uname -a" />
        </label>
        <label className="flex items-center gap-1 text-sm"><input type="checkbox" checked={shell} onChange={(e) => setShell(e.target.checked)} /> through sh -c</label>
        <Button type="submit" variant="primary" disabled={!line.trim()} busy={run.isPending}>Run</Button>
      </form>
      <p className="mt-1 text-xs text-zinc-500">Runs as root in the guest, at most 30 s; recorded in the audit log and the VM's events.</p>
      {run.error ? <p role="alert" className="mt-2 text-sm text-red-600">{errorText(run.error)}</p> : null}
      {result && (
        <div className="mt-3 space-y-1" data-testid="exec-result">
          <div className="text-sm">exit code <span className="font-mono">{result.exit_code ?? "—"}</span>{result.timed_out ? " (killed after the timeout)" : ""}{result.truncated ? " (output truncated)" : ""}</div>
          {result.stdout && <pre className="max-h-64 overflow-auto rounded bg-zinc-100 p-2 text-xs dark:bg-zinc-900">{result.stdout}</pre>}
          {result.stderr && <pre className="max-h-40 overflow-auto rounded bg-red-50 p-2 text-xs text-red-800 dark:bg-red-500/10 dark:text-red-200">{result.stderr}</pre>}
        </div>
      )}
    </Card>
  );
}

export function SetPassword({ vm }: { vm: Vm }) {
  const [user, setUser] = useState("root");
  const [pw, setPw] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const set = useWrite((a: { user: string; pw: string }) => agentPassword(vm.id, a.user, a.pw), [["events"]]);
  return (
    <Card title="Set a guest user's password">
      <form
        className="flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          if (user && pw) set.mutate({ user, pw }, { onSuccess: () => { setDone(user); setPw(""); } });
        }}
      >
        <label className="flex flex-col gap-1 text-sm"><span>User</span><input className={input} value={user} onChange={(e) => setUser(e.target.value)} /></label>
        <label className="flex flex-col gap-1 text-sm"><span>New password</span><input className={input} type="password" autoComplete="new-password" value={pw} onChange={(e) => setPw(e.target.value)} /></label>
        <Button type="submit" variant="primary" disabled={!user || !pw} busy={set.isPending}>Set password</Button>
      </form>
      {set.error ? <p role="alert" className="mt-2 text-sm text-red-600">{errorText(set.error)}</p> : null}
      {done && !set.error ? <p className="mt-2 text-sm text-emerald-600">Password of {done} set.</p> : null}
    </Card>
  );
}
