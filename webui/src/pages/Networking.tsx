import { useState } from "react";
import { Network as NetworkIcon, Plus, Shield } from "lucide-react";
import { loadAuth } from "../api/auth";
import { patch, post } from "../api/client";
import { useNetworks, useSecurityGroups, useVms, useWrite } from "../api/queries";
import type { SgRule } from "../api/types";
import { Button, Card, Empty, Field, InlineError, Loadable, Modal, PageHeader, Table, inputCls, td, th } from "../components/ui";
import { toast } from "../components/toast";

const KINDS = ["overlay", "vlan", "isolated", "bridge"] as const;

function AddNetwork({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [f, setF] = useState({ name: "", type: "overlay", cidr: "", vlan: "", bridge: "" });
  const body = () => {
    if (f.type === "bridge") return { name: f.name, type: "bridge", bridge: f.bridge };
    return { name: f.name, type: f.type, cidr: f.cidr, ...(f.type === "vlan" ? { vlan: Number(f.vlan) } : {}) };
  };
  const add = useWrite(() => post("/networks", body()), [["networks"]]);
  return (
    <Modal
      title="Create a network"
      open={open}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={add.isPending} disabled={!f.name} onClick={() => add.mutate(undefined, { onSuccess: () => { toast(`${f.name} created`); onClose(); } })}>
            Create
          </Button>
        </>
      }
    >
      <div className="space-y-4">
        <div className="grid grid-cols-2 gap-3">
          <Field label="Name" htmlFor="net-name">
            <input id="net-name" className={inputCls} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
          </Field>
          <Field label="Kind" htmlFor="net-kind" hint="overlay: Geneve across every host; vlan: a tag on the hosts' data network">
            <select id="net-kind" className={inputCls} value={f.type} onChange={(e) => setF({ ...f, type: e.target.value })}>
              {KINDS.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </Field>
        </div>
        {f.type === "bridge" ? (
          <Field label="Linux bridge on each host" htmlFor="net-bridge">
            <input id="net-bridge" className={inputCls} value={f.bridge} onChange={(e) => setF({ ...f, bridge: e.target.value })} placeholder="br0" />
          </Field>
        ) : (
          <div className="grid grid-cols-2 gap-3">
            <Field label="Subnet" htmlFor="net-cidr" hint="DHCP hands out fixed addresses from it; the first is the gateway">
              <input id="net-cidr" className={inputCls} value={f.cidr} onChange={(e) => setF({ ...f, cidr: e.target.value })} placeholder="10.60.0.0/24" />
            </Field>
            {f.type === "vlan" && (
              <Field label="VLAN tag" htmlFor="net-vlan">
                <input id="net-vlan" className={inputCls} value={f.vlan} onChange={(e) => setF({ ...f, vlan: e.target.value })} placeholder="10" />
              </Field>
            )}
          </div>
        )}
        <InlineError error={add.error} />
      </div>
    </Modal>
  );
}

function ruleText(r: SgRule): string {
  const ports = r.port_min ? (r.port_min === r.port_max ? `:${r.port_min}` : `:${r.port_min}-${r.port_max}`) : "";
  const from = r.group ? ` from group ${r.group}` : r.cidr && r.cidr !== "0.0.0.0/0" ? ` from ${r.cidr}` : "";
  return `${r.protocol}${ports}${from}`;
}

function parseRules(text: string): SgRule[] {
  return text
    .split(/[\n,]+/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [body = "", source = ""] = s.split("@");
      const [protocol = "", ports = ""] = body.split(":");
      const [lo, hi] = ports.split("-");
      const rule: SgRule = { protocol };
      if (lo) {
        rule.port_min = Number(lo);
        rule.port_max = Number(hi || lo);
      }
      if (source.startsWith("group:")) rule.group = source.slice(6);
      else if (source) rule.cidr = source;
      return rule;
    });
}

function EditGroup({ name, rules, onClose }: { name: string | null; rules: SgRule[]; onClose: () => void }) {
  const [f, setF] = useState({ name: name ?? "", rules: rules.map(ruleText).map((t) => t.replace(" from group ", "@group:").replace(" from ", "@")).join("\n") });
  const save = useWrite(
    () => (name ? patch(`/security_groups/${name}`, { rules: parseRules(f.rules) }) : post("/security_groups", { name: f.name, rules: parseRules(f.rules) })),
    [["security_groups"]],
  );
  return (
    <Modal
      title={name ? `Rules of ${name}` : "Create a security group"}
      open
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={save.isPending} disabled={!f.name} onClick={() => save.mutate(undefined, { onSuccess: () => { toast(`${f.name} saved`); onClose(); } })}>
            Save
          </Button>
        </>
      }
    >
      <div className="space-y-4">
        {!name && (
          <Field label="Name" htmlFor="sg-name">
            <input id="sg-name" className={inputCls} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
          </Field>
        )}
        <Field label="Inbound rules, one a line" htmlFor="sg-rules" hint="tcp:443 · udp:5000-5100@10.0.0.0/8 · icmp · any@group:web — anything else inbound is dropped; outbound is open">
          <textarea id="sg-rules" rows={5} className={`${inputCls} font-mono`} value={f.rules} onChange={(e) => setF({ ...f, rules: e.target.value })} />
        </Field>
        <InlineError error={save.error} />
      </div>
    </Modal>
  );
}

export default function Networking() {
  const nets = useNetworks();
  const groups = useSecurityGroups();
  const vms = useVms();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<{ name: string | null; rules: SgRule[] } | null>(null);
  const isAdmin = loadAuth()?.role === "admin";
  const nicsOn = (net: string) => (vms.data ?? []).flatMap((v) => (v.nics ?? []).filter((n) => n.network === net).map((n) => ({ vm: v.name ?? v.id, ip: n.ip })));
  return (
    <div className="space-y-5">
      <PageHeader title="Networking" subtitle="Overlay and VLAN networks on OVN, their addresses, and security groups." />
      <Card title="Networks" actions={isAdmin && <Button onClick={() => setAdding(true)}><Plus className="size-3.5" /> Create</Button>}>
        <Loadable q={nets} empty={(d) => (d.length ? null : <Empty title="No networks" hint="Create an overlay network: VMs on it reach each other across hosts." />)}>
          {(list) => (
            <Table label="Networks">
              <thead>
                <tr>
                  <th className={th}>Network</th>
                  <th className={th}>Kind</th>
                  <th className={th}>Subnet</th>
                  <th className={th}>Gateway</th>
                  <th className={th}>MTU</th>
                  <th className={th}>NICs</th>
                </tr>
              </thead>
              <tbody>
                {list.map((n) => {
                  const nics = nicsOn(n.id);
                  return (
                    <tr key={n.id}>
                      <td className={td}>
                        <div className="flex items-center gap-2 font-medium">
                          <NetworkIcon className="size-4 text-zinc-400" /> {n.id}
                        </div>
                      </td>
                      <td className={td}>
                        {n.type}
                        {n.type === "vlan" ? ` ${n.vlan}` : n.type === "bridge" ? ` (${n.bridge})` : ""}
                      </td>
                      <td className={`${td} font-mono text-xs`}>{n.cidr ?? "—"}</td>
                      <td className={`${td} font-mono text-xs`}>{n.gateway ?? "—"}</td>
                      <td className={td}>{n.mtu ?? "—"}</td>
                      <td className={`${td} text-xs`}>
                        {nics.length ? nics.map((x) => `${x.vm}${x.ip ? ` ${x.ip}` : ""}`).join(", ") : "—"}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </Table>
          )}
        </Loadable>
      </Card>
      <Card title="Security groups" actions={isAdmin && <Button onClick={() => setEditing({ name: null, rules: [] })}><Plus className="size-3.5" /> Create</Button>}>
        <Loadable q={groups} empty={(d) => (d.length ? null : <Empty title="No security groups" hint="A NIC in a group takes inbound traffic only as its rules allow." />)}>
          {(list) => (
            <Table label="Security groups">
              <thead>
                <tr>
                  <th className={th}>Group</th>
                  <th className={th}>Inbound rules</th>
                  <th className={th}></th>
                </tr>
              </thead>
              <tbody>
                {list.map((g) => (
                  <tr key={g.id}>
                    <td className={td}>
                      <div className="flex items-center gap-2 font-medium">
                        <Shield className="size-4 text-zinc-400" /> {g.id}
                      </div>
                    </td>
                    <td className={`${td} font-mono text-xs`}>{(g.rules ?? []).map(ruleText).join(" · ") || "none (inbound dropped)"}</td>
                    <td className={td}>{isAdmin && <Button onClick={() => setEditing({ name: g.id, rules: g.rules ?? [] })}>Edit</Button>}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Loadable>
      </Card>
      {adding && <AddNetwork open={adding} onClose={() => setAdding(false)} />}
      {editing && <EditGroup name={editing.name} rules={editing.rules} onClose={() => setEditing(null)} />}
    </div>
  );
}
