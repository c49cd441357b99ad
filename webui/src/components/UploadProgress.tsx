/** An upload's progress bar and its outcome (done with the checksum, or the error). */
import { CheckCircle2, XCircle } from "lucide-react";
import { errorText } from "../api/client";
import { bytes } from "../lib/format";
import { cx } from "./ui";

export type UploadState =
  | { phase: "idle" }
  | { phase: "uploading"; loaded: number; total: number }
  | { phase: "done"; total: number; sha256?: string | null }
  | { phase: "error"; error: unknown };

export function UploadProgress({ state, label = "Upload" }: { state: UploadState; label?: string }) {
  if (state.phase === "idle") return null;
  if (state.phase === "error") {
    return (
      <p role="alert" data-testid="upload-result" className="flex items-start gap-2 text-sm text-red-600 dark:text-red-400">
        <XCircle className="mt-0.5 size-4 shrink-0" /> Upload failed: {errorText(state.error)}
      </p>
    );
  }
  const total = Math.max(state.total, 1);
  const loaded = state.phase === "done" ? total : Math.min(state.loaded, total);
  const pct = Math.floor((loaded / total) * 100);
  return (
    <div className="space-y-1.5">
      <div className="flex justify-between text-xs text-zinc-500">
        <span>{state.phase === "done" ? "Uploaded" : "Uploading…"}</span>
        <span data-testid="upload-percent">
          {pct}% · {bytes(loaded)} of {bytes(state.total)}
        </span>
      </div>
      <div role="progressbar" aria-label={label} aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} className="h-2 w-full overflow-hidden rounded-full bg-zinc-100 dark:bg-zinc-800">
        <div className={cx("h-full rounded-full transition-all", state.phase === "done" ? "bg-emerald-500" : "bg-indigo-500")} style={{ width: `${pct}%` }} />
      </div>
      {state.phase === "done" && (
        <p role="status" data-testid="upload-result" className="flex items-start gap-2 text-sm text-emerald-700 dark:text-emerald-400">
          <CheckCircle2 className="mt-0.5 size-4 shrink-0" />
          <span>
            Ready{state.sha256 ? <> · sha256 <code className="break-all font-mono text-xs">{state.sha256}</code></> : null}
          </span>
        </p>
      )}
    </div>
  );
}
