/** Each member host's API certificate: names, fingerprint, validity, expiry warnings. */
import { AlertTriangle, ShieldCheck } from "lucide-react";
import { useCertificates } from "../api/queries";
import type { Certificate } from "../api/types";
import { when } from "../lib/format";
import { Badge, Card, Empty, Loadable, Table, td, th, type Tone } from "./ui";

const STATUS: Record<Certificate["status"], [Tone, string]> = {
  ok: ["green", "valid"],
  expiring: ["amber", "expires soon"],
  expired: ["red", "expired"],
  not_yet_valid: ["red", "not yet valid"],
  unknown: ["gray", "not published"],
};

function days(c: Certificate): string {
  if (c.days_left === null || c.days_left === undefined) return "";
  const d = Math.floor(c.days_left);
  return d < 0 ? `${-d} day(s) ago` : `in ${d} day(s)`;
}

/** The warning above the table: hosts whose certificate expired or expires soon. */
export function expiryWarning(certs: Certificate[], warningDays: number): string | null {
  const bad = certs.filter((c) => c.status === "expired" || c.status === "expiring" || c.status === "not_yet_valid");
  if (!bad.length) return null;
  const names = bad.map((c) => `${c.hostname ?? c.node_id} (${STATUS[c.status][1]})`).join(", ");
  return `${bad.length} host certificate(s) need attention — expired, not yet valid or under ${warningDays} days left: ${names}.`;
}

export function Certificates() {
  const q = useCertificates();
  return (
    <Card title="Host certificates">
      <p className="mb-4 flex items-start gap-2 text-zinc-600 dark:text-zinc-400">
        <ShieldCheck className="mt-0.5 size-4 shrink-0 text-emerald-500" />
        Each host serves HTTPS with its own self-signed certificate, made on first start. Compare a fingerprint with what your browser shows before trusting a host: to move to another host by itself when this one fails, your browser must have accepted that host's certificate once.
      </p>
      <Loadable q={q} empty={(d) => (d.items.length ? null : <Empty title="No hosts have joined yet" />)}>
        {(d) => {
          const warning = expiryWarning(d.items, d.warning_days);
          return (
            <>
              {warning && (
                <p role="alert" className="mb-3 flex items-start gap-2 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-200">
                  <AlertTriangle className="mt-0.5 size-4 shrink-0" /> {warning}
                </p>
              )}
              <Table label="Certificates">
                <thead>
                  <tr>
                    <th className={th}>Host</th>
                    <th className={th}>Subject and names</th>
                    <th className={th}>SHA-256 fingerprint</th>
                    <th className={th}>Valid</th>
                    <th className={th}>Status</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.map((c) => {
                    const [tone, label] = STATUS[c.status];
                    return (
                      <tr key={c.node_id}>
                        <td className={td}>
                          <div className="font-medium">{c.hostname ?? c.node_id}</div>
                          <div className="font-mono text-xs text-zinc-500">{c.address ?? c.node_id}</div>
                        </td>
                        <td className={td}>
                          <div className="text-xs">{c.subject ?? "—"}{c.self_signed ? " · self-signed" : ""}</div>
                          <div className="text-xs text-zinc-500">{c.san.join(", ")}</div>
                        </td>
                        <td className={`${td} max-w-[18rem] break-all font-mono text-[11px]`}>{c.sha256 ?? "—"}</td>
                        <td className={`${td} whitespace-nowrap text-xs text-zinc-500`}>
                          <div>from {when(c.not_before)}</div>
                          <div>until {when(c.not_after)}</div>
                        </td>
                        <td className={td}>
                          <Badge tone={tone}>{label}</Badge>
                          <div className="mt-1 text-xs text-zinc-500">{c.status === "unknown" ? "" : `${c.status === "expired" ? "expired" : "expires"} ${days(c)}`}</div>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </Table>
            </>
          );
        }}
      </Loadable>
    </Card>
  );
}
