import { useState } from "react";
import { Disc, HardDrive, Plus, Upload } from "lucide-react";
import { loadAuth } from "../api/auth";
import { post } from "../api/client";
import { useImages, usePools, useVolumes, useWrite } from "../api/queries";
import { bytes } from "../lib/format";
import { Button, Card, Empty, Field, InlineError, Loadable, Meter, Modal, PageHeader, StateBadge, Table, inputCls, td, th } from "../components/ui";
import { toast } from "../components/toast";
import { UploadImage } from "../components/UploadImage";

function AddImage({ open, onClose, pools }: { open: boolean; onClose: () => void; pools: string[] }) {
  const [f, setF] = useState({ name: "", kind: "disk", pool: "", source_url: "" });
  const add = useWrite(() => post("/images", { name: f.name, kind: f.kind, pool: f.pool || pools[0], ...(f.source_url ? { source_url: f.source_url } : {}) }), [["images"]]);
  return (
    <Modal
      title="Add an image or ISO"
      open={open}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={add.isPending} disabled={!f.name || !(f.pool || pools[0])} onClick={() => add.mutate(undefined, { onSuccess: () => { toast(`${f.name} added`); onClose(); } })}>
            Add
          </Button>
        </>
      }
    >
      <div className="space-y-4">
        <Field label="Name" htmlFor="img-name">
          <input id="img-name" className={inputCls} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
        </Field>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Kind" htmlFor="img-kind">
            <select id="img-kind" className={inputCls} value={f.kind} onChange={(e) => setF({ ...f, kind: e.target.value })}>
              <option value="disk">Disk image</option>
              <option value="iso">ISO</option>
            </select>
          </Field>
          <Field label="Pool" htmlFor="img-pool">
            <select id="img-pool" className={inputCls} value={f.pool} onChange={(e) => setF({ ...f, pool: e.target.value })}>
              {pools.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </Field>
        </div>
        <Field label="Source URL" htmlFor="img-url" hint="http(s):// or file:// — the hosts fetch it. To send a file from this computer, use Upload.">
          <input id="img-url" className={inputCls} value={f.source_url} onChange={(e) => setF({ ...f, source_url: e.target.value })} placeholder="https://cloud.debian.org/…qcow2" />
        </Field>
        <InlineError error={add.error} />
      </div>
    </Modal>
  );
}

export default function Storage() {
  const pools = usePools();
  const volumes = useVolumes();
  const images = useImages();
  const [adding, setAdding] = useState(false);
  const [uploading, setUploading] = useState(false);
  const role = loadAuth()?.role;
  const canWrite = role === "admin" || role === "operator";
  return (
    <div className="space-y-5">
      <PageHeader title="Storage" subtitle="Pools, volumes, and the image and ISO library." />
      <Card title="Pools">
        <Loadable q={pools} empty={(d) => (d.length ? null : <Empty title="No storage pools" hint="An admin creates one with: quantix pool create NAME [--root ROOT]" />)}>
          {(list) => (
            <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
              {list.map((p) => {
                const vols = (volumes.data ?? []).filter((v) => v.pool === p.id);
                const used = vols.reduce((s, v) => s + (v.size_bytes ?? 0), 0);
                const cap = p.capacity_bytes;
                return (
                  <div key={p.id} className="rounded-lg border border-zinc-200 p-4 dark:border-zinc-800">
                    <div className="flex items-center gap-2 font-medium">
                      <HardDrive className="size-4 text-zinc-400" /> {p.id}
                      <span className="ml-auto text-xs text-zinc-500">{p.shared ? "shared" : `local · ${(p.nodes ?? []).length || "all"} host(s)`}</span>
                    </div>
                    <div className="mt-1 truncate font-mono text-xs text-zinc-500">{p.path}</div>
                    <div className="mt-3 mb-1 flex justify-between text-xs text-zinc-500">
                      <span>{vols.length} volumes</span>
                      <span>
                        {bytes(used)} provisioned{cap ? ` / ${bytes(cap)}` : ""}
                      </span>
                    </div>
                    <Meter value={cap ? (used / cap) * 100 : 0} label={`${p.id} capacity`} />
                  </div>
                );
              })}
            </div>
          )}
        </Loadable>
      </Card>
      <Card
        title="Image & ISO library"
        actions={
          canWrite && (
            <div className="flex gap-2">
              <Button onClick={() => setUploading(true)}><Upload className="size-3.5" /> Upload</Button>
              <Button onClick={() => setAdding(true)}><Plus className="size-3.5" /> Add</Button>
            </div>
          )
        }
      >
        <Loadable q={images} empty={(d) => (d.length ? null : <Empty title="The library is empty" hint="Add a cloud image or an ISO to create VMs from." />)}>
          {(list) => (
            <Table label="Images">
              <thead>
                <tr>
                  <th className={th}>Name</th>
                  <th className={th}>Kind</th>
                  <th className={th}>Pool</th>
                  <th className={th}>Size</th>
                  <th className={th}>State</th>
                </tr>
              </thead>
              <tbody>
                {list.map((i) => (
                  <tr key={i.id}>
                    <td className={td}>
                      <div className="flex items-center gap-2 font-medium">
                        {i.kind === "iso" ? <Disc className="size-4 text-zinc-400" /> : <HardDrive className="size-4 text-zinc-400" />}
                        {i.name ?? i.id}
                      </div>
                      <div className="font-mono text-xs text-zinc-500">{i.id}</div>
                    </td>
                    <td className={td}>{i.kind}</td>
                    <td className={td}>{i.pool}</td>
                    <td className={td}>{bytes(i.size_bytes)}</td>
                    <td className={td}>
                      <StateBadge state={i.state ?? "ready"} />
                      {i.error ? <div className="mt-1 max-w-xs truncate text-xs text-red-600" title={i.error}>{i.error}</div> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Loadable>
      </Card>
      <Card title="Volumes">
        <Loadable q={volumes} empty={(d) => (d.length ? null : <Empty title="No volumes" />)}>
          {(list) => (
            <Table label="Volumes">
              <thead>
                <tr>
                  <th className={th}>Volume</th>
                  <th className={th}>Pool</th>
                  <th className={th}>Size</th>
                  <th className={th}>Format</th>
                  <th className={th}>VM</th>
                  <th className={th}>Host</th>
                </tr>
              </thead>
              <tbody>
                {list.map((v) => (
                  <tr key={v.id}>
                    <td className={`${td} font-mono text-xs`}>{v.name ?? v.id}</td>
                    <td className={td}>{v.pool}</td>
                    <td className={td}>{bytes(v.size_bytes)}</td>
                    <td className={td}>{v.format ?? "—"}</td>
                    <td className={td}>{v.vm ?? "—"}</td>
                    <td className={td}>{v.node ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Loadable>
      </Card>
      {uploading && <UploadImage open={uploading} onClose={() => setUploading(false)} pools={(pools.data ?? []).map((p) => p.id)} />}
      {adding && <AddImage open={adding} onClose={() => setAdding(false)} pools={(pools.data ?? []).map((p) => p.id)} />}
    </div>
  );
}
