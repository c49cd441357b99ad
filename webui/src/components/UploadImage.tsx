/**
 * Upload an image or ISO from this computer: create the image record (pending),
 * then PUT its bytes with XMLHttpRequest so the bar can follow the upload.
 */
import { useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Upload } from "lucide-react";
import { post } from "../api/client";
import type { Image } from "../api/types";
import { uploadFile } from "../lib/upload";
import { Button, Field, Modal, inputCls } from "./ui";
import { UploadProgress, type UploadState } from "./UploadProgress";

const KINDS = [
  ["iso", "ISO"],
  ["disk", "Disk image"],
  ["kernel", "Kernel (direct boot)"],
  ["initrd", "Initrd (direct boot)"],
] as const;

/** A first guess of the kind from the file name; the user can change it. */
export function guessKind(fileName: string): string {
  const n = fileName.toLowerCase();
  if (n.endsWith(".iso")) return "iso";
  if (n.includes("vmlinuz") || n.includes("bzimage")) return "kernel";
  if (n.includes("initrd") || n.includes("initramfs")) return "initrd";
  return "disk";
}

export function UploadImage({ open, onClose, pools }: { open: boolean; onClose: () => void; pools: string[] }) {
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [f, setF] = useState({ name: "", kind: "iso", pool: "" });
  const [state, setState] = useState<UploadState>({ phase: "idle" });
  const abort = useRef<AbortController | null>(null);
  const busy = state.phase === "uploading";
  const pool = f.pool || pools[0] || "";

  async function start() {
    if (!file) return;
    abort.current = new AbortController();
    setState({ phase: "uploading", loaded: 0, total: file.size });
    try {
      const img = await post<Image>("/images", { name: f.name || file.name, kind: f.kind, pool, size_bytes: file.size });
      void qc.invalidateQueries({ queryKey: ["images"] });
      const done = await uploadFile<Image>(`/images/${encodeURIComponent(img.id)}/content`, file, {
        signal: abort.current.signal,
        onProgress: (p) => setState({ phase: "uploading", loaded: p.loaded, total: p.total }),
      });
      setState({ phase: "done", total: file.size, sha256: done.sha256 });
    } catch (e) {
      setState({ phase: "error", error: e });
    } finally {
      abort.current = null;
      void qc.invalidateQueries({ queryKey: ["images"] });
    }
  }

  const close = () => {
    abort.current?.abort();
    onClose();
  };
  return (
    <Modal
      title="Upload an image or ISO"
      open={open}
      onClose={close}
      footer={
        <>
          <Button onClick={close}>{state.phase === "done" ? "Close" : "Cancel"}</Button>
          {state.phase !== "done" && (
            <Button variant="primary" busy={busy} disabled={!file || !pool || busy} onClick={() => void start()}>
              <Upload className="size-3.5" /> Upload
            </Button>
          )}
        </>
      }
    >
      <div className="space-y-4">
        <Field label="File" htmlFor="up-file" hint="Sent to the host serving this page, which stores it in the pool (or passes it to the host that has the pool).">
          <input
            id="up-file"
            type="file"
            className={inputCls}
            disabled={busy}
            onChange={(e) => {
              const picked = e.target.files?.[0] ?? null;
              setFile(picked);
              setState({ phase: "idle" });
              if (picked) setF((cur) => ({ ...cur, name: cur.name || picked.name, kind: guessKind(picked.name) }));
            }}
          />
        </Field>
        <Field label="Name" htmlFor="up-name">
          <input id="up-name" className={inputCls} value={f.name} disabled={busy} onChange={(e) => setF({ ...f, name: e.target.value })} />
        </Field>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Kind" htmlFor="up-kind">
            <select id="up-kind" className={inputCls} value={f.kind} disabled={busy} onChange={(e) => setF({ ...f, kind: e.target.value })}>
              {KINDS.map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Pool" htmlFor="up-pool">
            <select id="up-pool" className={inputCls} value={pool} disabled={busy} onChange={(e) => setF({ ...f, pool: e.target.value })}>
              {pools.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </Field>
        </div>
        <UploadProgress state={state} label="Upload progress" />
      </div>
    </Modal>
  );
}
