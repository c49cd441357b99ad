import { useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { ArrowLeft, Check, Plus, Trash2 } from "lucide-react";
import { ApiError, errorText, post } from "../api/client";
import { useImages, useNetworks, useNodes, usePools, useVms, useWrite } from "../api/queries";
import type { Vm } from "../api/types";
import { sha512crypt } from "../lib/crypt";
import { mib } from "../lib/format";
import { passwordProblem, sshKeyProblems, sshKeys, vmNameProblem } from "../lib/validate";
import { Button, Card, Field, InlineError, PageHeader, cx, inputCls } from "../components/ui";
import { toast } from "../components/toast";

export const PRESETS = [
  { id: "nano", label: "Nano", vcpus: 1, memory_mib: 256 },
  { id: "small", label: "Small", vcpus: 1, memory_mib: 1024 },
  { id: "medium", label: "Medium", vcpus: 2, memory_mib: 4096 },
  { id: "large", label: "Large", vcpus: 4, memory_mib: 8192 },
  { id: "xlarge", label: "X-Large", vcpus: 8, memory_mib: 16384 },
];
const STEPS = ["Basics", "Disks", "Network", "Cloud-init", "Review"] as const;

interface DiskRow {
  size_gib: number;
  pool: string;
  image: string;
}

export interface Draft {
  name: string;
  vcpus: number;
  memory_mib: number;
  disks: DiskRow[];
  nics: string[];
  hostname: string;
  keys: string;
  password: string;
  confirm: string;
  start: boolean;
  ha: boolean;
  /** Direct kernel boot: image ids of kind kernel/initrd, and the command line. */
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** The problems that block each step (the API checks again: 422 with field paths). */
export function stepProblems(d: Draft, step: number, taken: string[]): Record<string, string> {
  const p: Record<string, string> = {};
  if (step === 0) {
    const n = vmNameProblem(d.name, taken);
    if (n) p["name"] = n;
    if (!(d.vcpus >= 1)) p["vcpus"] = "At least 1 vCPU.";
    if (!(d.memory_mib >= 64)) p["memory_mib"] = "At least 64 MiB.";
  }
  if (step === 1) d.disks.forEach((x, i) => (x.size_gib >= 1 ? null : (p[`disk${i}`] = "At least 1 GiB.")));
  if (step === 3) {
    const k = sshKeyProblems(d.keys);
    if (k.length) p["keys"] = k.map((x) => `line ${x.line}: ${x.problem}`).join("; ");
    const pw = passwordProblem(d.password, d.confirm);
    if (pw) p["password"] = pw;
  }
  return p;
}

export default function VmCreate() {
  const nav = useNavigate();
  const images = useImages();
  const pools = usePools();
  const networks = useNetworks();
  const nodes = useNodes();
  const vms = useVms();
  const [step, setStep] = useState(0);
  const [d, setD] = useState<Draft>({ name: "", vcpus: 1, memory_mib: 1024, disks: [], nics: [], hostname: "", keys: "", password: "", confirm: "", start: true, ha: false, kernel: "", initrd: "", cmdline: "" });
  const [touched, setTouched] = useState(false);
  const [serverErr, setServerErr] = useState<unknown>(null);
  const set = (patch: Partial<Draft>) => setD((o) => ({ ...o, ...patch }));
  const taken = useMemo(() => (vms.data ?? []).map((v) => v.name), [vms.data]);
  const problems = stepProblems(d, step, taken);
  const biggest = Math.max(0, ...(nodes.data ?? []).map((n) => n.resources?.memory_mib ?? 0));
  const create = useWrite(async () => {
    const body: Record<string, unknown> = {
      name: d.name,
      vcpus: d.vcpus,
      memory_mib: d.memory_mib,
      disks: d.disks.map((x) => ({ size_gib: x.size_gib, ...(x.pool ? { pool: x.pool } : {}), ...(x.image ? { image: x.image } : {}) })),
      nics: d.nics.map((network) => ({ network })),
      desired: d.start ? "running" : "stopped",
    };
    const keys = sshKeys(d.keys);
    if (keys.length || d.password || d.hostname)
      body["cloud_init"] = {
        hostname: d.hostname || d.name,
        ssh_keys: keys,
        password_hash: d.password ? await sha512crypt(d.password) : null,
      };
    if (d.ha) body["ha"] = { enabled: true };
    if (d.kernel) Object.assign(body, { kernel: d.kernel, initrd: d.initrd || null, cmdline: d.cmdline || null });
    return post<Vm>("/vms", body);
  }, [["vms"], ["cluster"], ["volumes"]]);

  const next = () => {
    setTouched(true);
    if (Object.keys(problems).length) return;
    setTouched(false);
    setStep((s) => s + 1);
  };
  const submit = () =>
    create.mutate(undefined, {
      onSuccess: (vm) => {
        toast(`${vm.name} created`);
        void nav(`/vms/${vm.id}`);
      },
      onError: (e) => setServerErr(e),
    });
  const err = (k: string) => (touched ? (problems[k] ?? null) : null);
  const fieldErrs = serverErr instanceof ApiError ? serverErr.fieldErrors() : {};
  const diskImages = (images.data ?? []).filter((i) => !["iso", "kernel", "initrd"].includes(i.kind ?? ""));
  const kernels = (images.data ?? []).filter((i) => i.kind === "kernel");
  const initrds = (images.data ?? []).filter((i) => i.kind === "initrd");

  return (
    <div className="mx-auto max-w-3xl space-y-5">
      <Link to="/vms" className="inline-flex items-center gap-1 text-zinc-500 hover:text-zinc-900 dark:hover:text-zinc-100">
        <ArrowLeft className="size-4" /> Virtual machines
      </Link>
      <PageHeader title="New virtual machine" />
      <ol className="flex flex-wrap gap-2" aria-label="Steps">
        {STEPS.map((s, i) => (
          <li key={s}>
            <button
              onClick={() => i < step && setStep(i)}
              aria-current={i === step ? "step" : undefined}
              className={cx(
                "flex items-center gap-1.5 rounded-full border px-3 py-1 text-xs font-medium",
                i === step ? "border-zinc-900 bg-zinc-900 text-white dark:border-white dark:bg-white dark:text-zinc-900" : i < step ? "border-emerald-300 text-emerald-700 dark:border-emerald-800 dark:text-emerald-400" : "border-zinc-200 text-zinc-500 dark:border-zinc-800",
              )}
            >
              {i < step ? <Check className="size-3" /> : <span>{i + 1}</span>} {s}
            </button>
          </li>
        ))}
      </ol>
      <Card>
        <form
          className="space-y-5"
          onSubmit={(e) => {
            e.preventDefault();
            if (step < STEPS.length - 1) next();
            else submit();
          }}
        >
          {step === 0 && (
            <>
              <Field label="Name" htmlFor="vm-name" error={err("name") ?? fieldErrs["/name"] ?? null} hint="Lowercase letters, digits and dashes; unique in the cluster.">
                <input id="vm-name" className={inputCls} value={d.name} onChange={(e) => set({ name: e.target.value.toLowerCase() })} autoFocus placeholder="web-1" />
              </Field>
              <fieldset>
                <legend className="mb-2 text-[13px] font-medium text-zinc-700 dark:text-zinc-300">Size</legend>
                <div className="grid grid-cols-2 gap-2 sm:grid-cols-5">
                  {PRESETS.map((p) => {
                    const on = p.vcpus === d.vcpus && p.memory_mib === d.memory_mib;
                    return (
                      <button
                        type="button"
                        key={p.id}
                        aria-pressed={on}
                        onClick={() => set({ vcpus: p.vcpus, memory_mib: p.memory_mib })}
                        disabled={biggest > 0 && p.memory_mib > biggest}
                        className={cx("rounded-lg border p-3 text-left disabled:opacity-40", on ? "border-indigo-500 ring-2 ring-indigo-500/20" : "border-zinc-200 hover:border-zinc-300 dark:border-zinc-800 dark:hover:border-zinc-700")}
                      >
                        <div className="font-medium">{p.label}</div>
                        <div className="text-xs text-zinc-500">
                          {p.vcpus} vCPU · {mib(p.memory_mib)}
                        </div>
                      </button>
                    );
                  })}
                </div>
              </fieldset>
              <div className="grid grid-cols-2 gap-4">
                <Field label="vCPUs" htmlFor="vm-cpus" error={err("vcpus")}>
                  <input id="vm-cpus" type="number" min={1} className={inputCls} value={d.vcpus} onChange={(e) => set({ vcpus: Number(e.target.value) })} />
                </Field>
                <Field label="Memory (MiB)" htmlFor="vm-mem" error={err("memory_mib")} hint={biggest ? `The largest host has ${mib(biggest)}.` : undefined}>
                  <input id="vm-mem" type="number" min={64} step={64} className={inputCls} value={d.memory_mib} onChange={(e) => set({ memory_mib: Number(e.target.value) })} />
                </Field>
              </div>
            </>
          )}
          {step === 1 && (
            <div className="space-y-3">
              {d.disks.length === 0 && <p className="text-zinc-500">No disks: the VM boots from the network or a CD-ROM only. Add a disk cloned from an image to boot an OS.</p>}
              {d.disks.map((x, i) => (
                <div key={i} className="grid grid-cols-1 items-end gap-3 rounded-lg border border-zinc-200 p-3 sm:grid-cols-[1fr_1fr_7rem_auto] dark:border-zinc-800">
                  <Field label={`Disk ${i + 1} image`} htmlFor={`disk-img-${i}`}>
                    <select id={`disk-img-${i}`} className={inputCls} value={x.image} onChange={(e) => set({ disks: d.disks.map((y, j) => (j === i ? { ...y, image: e.target.value } : y)) })}>
                      <option value="">Blank disk</option>
                      {diskImages.map((im) => (
                        <option key={im.id} value={im.id}>
                          {im.name ?? im.id}
                        </option>
                      ))}
                    </select>
                  </Field>
                  <Field label="Pool" htmlFor={`disk-pool-${i}`}>
                    <select id={`disk-pool-${i}`} className={inputCls} value={x.pool} onChange={(e) => set({ disks: d.disks.map((y, j) => (j === i ? { ...y, pool: e.target.value } : y)) })}>
                      <option value="">Default</option>
                      {(pools.data ?? []).map((p) => (
                        <option key={p.id} value={p.id}>
                          {p.id}
                        </option>
                      ))}
                    </select>
                  </Field>
                  <Field label="Size (GiB)" htmlFor={`disk-size-${i}`} error={err(`disk${i}`)}>
                    <input id={`disk-size-${i}`} type="number" min={1} className={inputCls} value={x.size_gib} onChange={(e) => set({ disks: d.disks.map((y, j) => (j === i ? { ...y, size_gib: Number(e.target.value) } : y)) })} />
                  </Field>
                  <Button variant="ghost" aria-label={`Remove disk ${i + 1}`} onClick={() => set({ disks: d.disks.filter((_, j) => j !== i) })}>
                    <Trash2 className="size-4" />
                  </Button>
                </div>
              ))}
              <Button onClick={() => set({ disks: [...d.disks, { size_gib: 10, pool: "", image: d.disks.length === 0 ? (diskImages[0]?.id ?? "") : "" }] })}>
                <Plus className="size-3.5" /> Add disk
              </Button>
              {kernels.length > 0 && (
                <fieldset className="space-y-3 rounded-lg border border-zinc-200 p-3 dark:border-zinc-800">
                  <legend className="px-1 text-[13px] font-medium text-zinc-700 dark:text-zinc-300">Direct kernel boot (optional)</legend>
                  <div className="grid gap-3 sm:grid-cols-2">
                    <Field label="Kernel" htmlFor="boot-kernel" error={fieldErrs["/kernel"] ?? null}>
                      <select id="boot-kernel" className={inputCls} value={d.kernel} onChange={(e) => set({ kernel: e.target.value, ...(e.target.value ? {} : { initrd: "", cmdline: "" }) })}>
                        <option value="">None (boot from disk or CD-ROM)</option>
                        {kernels.map((im) => (
                          <option key={im.id} value={im.id}>
                            {im.name ?? im.id}
                          </option>
                        ))}
                      </select>
                    </Field>
                    <Field label="Initrd" htmlFor="boot-initrd" error={fieldErrs["/initrd"] ?? null}>
                      <select id="boot-initrd" className={inputCls} value={d.initrd} disabled={!d.kernel} onChange={(e) => set({ initrd: e.target.value })}>
                        <option value="">None</option>
                        {initrds.map((im) => (
                          <option key={im.id} value={im.id}>
                            {im.name ?? im.id}
                          </option>
                        ))}
                      </select>
                    </Field>
                  </div>
                  <Field label="Kernel command line" htmlFor="boot-cmdline" error={fieldErrs["/cmdline"] ?? null}>
                    <input id="boot-cmdline" className={cx(inputCls, "font-mono text-xs")} value={d.cmdline} disabled={!d.kernel} onChange={(e) => set({ cmdline: e.target.value })} placeholder="console=ttyS0" />
                  </Field>
                </fieldset>
              )}
            </div>
          )}
          {step === 2 && (
            <div className="space-y-3">
              {networks.data?.length === 0 && <p className="text-zinc-500">No networks are defined: the VM will have no NIC.</p>}
              {(networks.data ?? []).map((n) => (
                <label key={n.id} className="flex items-center gap-2">
                  <input type="checkbox" checked={d.nics.includes(n.id)} onChange={(e) => set({ nics: e.target.checked ? [...d.nics, n.id] : d.nics.filter((x) => x !== n.id) })} />
                  <span className="font-medium">{n.id}</span>
                  <span className="text-xs text-zinc-500">
                    {n.type} {n.bridge} {n.vlan ? `VLAN ${n.vlan}` : ""}
                  </span>
                </label>
              ))}
            </div>
          )}
          {step === 3 && (
            <>
              <Field label="Guest hostname" htmlFor="ci-host" hint="Defaults to the VM's name.">
                <input id="ci-host" className={inputCls} value={d.hostname} onChange={(e) => set({ hostname: e.target.value })} placeholder={d.name} />
              </Field>
              <Field label="SSH public keys" htmlFor="ci-keys" error={err("keys")} hint="One per line (ssh-ed25519, ssh-rsa, ecdsa-…).">
                <textarea id="ci-keys" rows={4} className={cx(inputCls, "h-auto py-2 font-mono text-xs")} value={d.keys} onChange={(e) => set({ keys: e.target.value })} placeholder="ssh-ed25519 AAAA… you@laptop" />
              </Field>
              <div className="grid gap-4 sm:grid-cols-2">
                <Field label="Password (optional)" htmlFor="ci-pw" error={err("password")} hint="Hashed (SHA-512 crypt) in your browser.">
                  <input id="ci-pw" type="password" autoComplete="new-password" className={inputCls} value={d.password} onChange={(e) => set({ password: e.target.value })} />
                </Field>
                <Field label="Confirm password" htmlFor="ci-pw2">
                  <input id="ci-pw2" type="password" autoComplete="new-password" className={inputCls} value={d.confirm} onChange={(e) => set({ confirm: e.target.value })} />
                </Field>
              </div>
            </>
          )}
          {step === 4 && (
            <>
              <dl className="grid grid-cols-[8rem_1fr] gap-y-2">
                <dt className="text-zinc-500">Name</dt>
                <dd className="font-medium">{d.name}</dd>
                <dt className="text-zinc-500">Size</dt>
                <dd>
                  {d.vcpus} vCPU · {mib(d.memory_mib)}
                </dd>
                <dt className="text-zinc-500">Disks</dt>
                <dd>{d.disks.length ? d.disks.map((x) => `${x.size_gib} GiB${x.image ? ` from ${images.data?.find((i) => i.id === x.image)?.name ?? x.image}` : ""}`).join(", ") : "none"}</dd>
                {d.kernel ? (
                  <>
                    <dt className="text-zinc-500">Boot</dt>
                    <dd>
                      kernel {images.data?.find((i) => i.id === d.kernel)?.name ?? d.kernel}
                      {d.initrd ? ` + ${images.data?.find((i) => i.id === d.initrd)?.name ?? d.initrd}` : ""}
                      {d.cmdline ? <code className="ml-1 font-mono text-xs">{d.cmdline}</code> : null}
                    </dd>
                  </>
                ) : null}
                <dt className="text-zinc-500">Networks</dt>
                <dd>{d.nics.join(", ") || "none"}</dd>
                <dt className="text-zinc-500">Cloud-init</dt>
                <dd>
                  {sshKeys(d.keys).length} SSH key(s){d.password ? ", password set" : ""}
                </dd>
              </dl>
              <label className="flex items-center gap-2">
                <input type="checkbox" checked={d.start} onChange={(e) => set({ start: e.target.checked })} /> Start it now
              </label>
              <label className="flex items-center gap-2">
                <input type="checkbox" checked={d.ha} onChange={(e) => set({ ha: e.target.checked })} /> High availability (restart on another host if its host dies)
              </label>
              <InlineError error={serverErr} />
            </>
          )}
          <div className="flex justify-between border-t border-zinc-100 pt-4 dark:border-zinc-800">
            <Button onClick={() => (step ? setStep(step - 1) : void nav("/vms"))}>{step ? "Back" : "Cancel"}</Button>
            <Button type="submit" variant="primary" busy={create.isPending}>
              {step < STEPS.length - 1 ? "Next" : "Create VM"}
            </Button>
          </div>
        </form>
      </Card>
      {serverErr && step !== 4 ? <InlineError error={errorText(serverErr)} /> : null}
    </div>
  );
}
