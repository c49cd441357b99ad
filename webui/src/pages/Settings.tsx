import { useState } from "react";
import { KeyRound, Plus, Trash2, Unlock } from "lucide-react";
import { NavLink, useParams } from "react-router";
import { loadAuth } from "../api/auth";
import { del, errorText, patch, post } from "../api/client";
import { useTokens, useUsers, useWrite } from "../api/queries";
import type { Role, Token } from "../api/types";
import { ago, when } from "../lib/format";
import { Badge, Button, Card, Empty, Field, InlineError, Loadable, Modal, PageHeader, Table, cx, inputBase, inputCls, td, th } from "../components/ui";
import { toast } from "../components/toast";
import { Certificates } from "../components/Certificates";

const ROLES: Role[] = ["viewer", "operator", "admin"];

function Users() {
  const me = loadAuth();
  const users = useUsers(me?.role === "admin");
  const [open, setOpen] = useState(false);
  const [f, setF] = useState({ name: "", role: "viewer" as Role, password: "" });
  const create = useWrite(() => post("/users", f), [["users"]]);
  const setRole = useWrite(({ name, role }: { name: string; role: Role }) => patch(`/users/${encodeURIComponent(name)}`, { role }), [["users"]]);
  const unlock = useWrite((name: string) => post(`/users/${encodeURIComponent(name)}/unlock`), [["users"]]);
  const remove = useWrite((name: string) => del(`/users/${encodeURIComponent(name)}`), [["users"]]);
  if (me?.role !== "admin") return null;
  const onErr = (e: Error) => toast(errorText(e), false);
  return (
    <Card title="Users and roles" actions={<Button onClick={() => setOpen(true)}><Plus className="size-3.5" /> New user</Button>}>
      <Loadable q={users} empty={(d) => (d.length ? null : <Empty title="No users" />)}>
        {(list) => (
          <Table label="Users">
            <thead>
              <tr>
                <th className={th}>User</th>
                <th className={th}>Role</th>
                <th className={th}>Status</th>
                <th className={th}><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((u) => {
                const locked = u.locked_until && u.locked_until * 1000 > Date.now();
                return (
                  <tr key={u.id}>
                    <td className={`${td} font-medium`}>{u.id}</td>
                    <td className={td}>
                      <select aria-label={`Role of ${u.id}`} className={cx(inputBase, "h-8 w-auto")} value={u.role} disabled={u.id === me.user} onChange={(e) => setRole.mutate({ name: u.id, role: e.target.value as Role }, { onError: onErr })}>
                        {ROLES.map((r) => (
                          <option key={r}>{r}</option>
                        ))}
                      </select>
                    </td>
                    <td className={td}>{locked ? <Badge tone="red">locked</Badge> : <Badge tone="green">active</Badge>}</td>
                    <td className={`${td} text-right`}>
                      {locked && (
                        <Button variant="ghost" onClick={() => unlock.mutate(u.id, { onError: onErr })}>
                          <Unlock className="size-3.5" /> Unlock
                        </Button>
                      )}
                      {u.id !== me.user && (
                        <Button variant="ghost" aria-label={`Delete ${u.id}`} onClick={() => confirm(`Delete user ${u.id} and their tokens?`) && remove.mutate(u.id, { onError: onErr })}>
                          <Trash2 className="size-3.5" />
                        </Button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </Table>
        )}
      </Loadable>
      <Modal
        title="New user"
        open={open}
        onClose={() => setOpen(false)}
        footer={
          <>
            <Button onClick={() => setOpen(false)}>Cancel</Button>
            <Button variant="primary" busy={create.isPending} disabled={!f.name || f.password.length < 8} onClick={() => create.mutate(undefined, { onSuccess: () => { toast(`${f.name} created`); setOpen(false); } })}>
              Create
            </Button>
          </>
        }
      >
        <div className="space-y-4">
          <Field label="User name" htmlFor="u-name">
            <input id="u-name" className={inputCls} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />
          </Field>
          <Field label="Role" htmlFor="u-role">
            <select id="u-role" className={inputCls} value={f.role} onChange={(e) => setF({ ...f, role: e.target.value as Role })}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </Field>
          <Field label="Password" htmlFor="u-pw" hint="At least 8 characters." error={f.password && f.password.length < 8 ? "Too short." : null}>
            <input id="u-pw" type="password" autoComplete="new-password" className={inputCls} value={f.password} onChange={(e) => setF({ ...f, password: e.target.value })} />
          </Field>
          <InlineError error={create.error} />
        </div>
      </Modal>
    </Card>
  );
}

function Tokens() {
  const tokens = useTokens();
  const me = loadAuth();
  const [name, setName] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const create = useWrite(() => post<Token & { token: string }>("/tokens", { name }), [["tokens"]]);
  const revoke = useWrite((id: string) => del(`/tokens/${encodeURIComponent(id)}`), [["tokens"]]);
  return (
    <Card title="API tokens">
      <form
        className="mb-4 flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate(undefined, { onSuccess: (t) => { setShown(t.token); setName(""); }, onError: (x) => toast(errorText(x), false) });
        }}
      >
        <Field label="New token name" htmlFor="tok-name">
          <input id="tok-name" className={cx(inputBase, "w-64")} value={name} onChange={(e) => setName(e.target.value)} placeholder="terraform" />
        </Field>
        <Button type="submit" variant="primary" disabled={!name} busy={create.isPending}>
          <KeyRound className="size-3.5" /> Create token
        </Button>
      </form>
      {shown && (
        <div role="status" className="mb-4 rounded-md border border-emerald-200 bg-emerald-50 p-3 dark:border-emerald-900 dark:bg-emerald-950/40">
          <p className="mb-1 font-medium">Copy it now: it is shown only once.</p>
          <code className="block break-all font-mono text-xs">{shown}</code>
        </div>
      )}
      <Loadable q={tokens} empty={(d) => (d.length ? null : <Empty title="No tokens" />)}>
        {(list) => (
          <Table label="Tokens">
            <thead>
              <tr>
                <th className={th}>Name</th>
                <th className={th}>User</th>
                <th className={th}>Role</th>
                <th className={th}>Created</th>
                <th className={th}>Expires</th>
                <th className={th}><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.id} className={t.revoked ? "opacity-50" : undefined}>
                  <td className={td}>
                    <div className="font-medium">{t.name ?? t.id}</div>
                    <div className="font-mono text-xs text-zinc-500">{t.id}{t.id === me?.tokenId ? " · this browser" : ""}</div>
                  </td>
                  <td className={td}>{t.user}</td>
                  <td className={td}>{t.role}</td>
                  <td className={`${td} text-xs text-zinc-500`}>{ago(t.created_at)}</td>
                  <td className={`${td} text-xs text-zinc-500`}>{t.revoked ? "revoked" : t.expires_at ? when(t.expires_at) : "never"}</td>
                  <td className={`${td} text-right`}>
                    {!t.revoked && t.id !== me?.tokenId && (
                      <Button variant="ghost" onClick={() => revoke.mutate(t.id, { onError: (x) => toast(errorText(x), false) })}>
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Loadable>
    </Card>
  );
}

function Password() {
  const me = loadAuth();
  const [f, setF] = useState({ current: "", next: "", confirm: "" });
  const change = useWrite(() => post(`/users/${encodeURIComponent(me?.user ?? "")}/password`, { current_password: f.current, new_password: f.next }), []);
  const problem = f.next && f.next.length < 8 ? "At least 8 characters." : f.confirm && f.next !== f.confirm ? "The passwords differ." : null;
  return (
    <Card title="Your password">
      <form
        className="grid max-w-xl gap-3 sm:grid-cols-3"
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate(undefined, { onSuccess: () => { toast("Password changed"); setF({ current: "", next: "", confirm: "" }); } });
        }}
      >
        <Field label="Current" htmlFor="pw-cur">
          <input id="pw-cur" type="password" autoComplete="current-password" className={inputCls} value={f.current} onChange={(e) => setF({ ...f, current: e.target.value })} />
        </Field>
        <Field label="New" htmlFor="pw-new" error={problem}>
          <input id="pw-new" type="password" autoComplete="new-password" className={inputCls} value={f.next} onChange={(e) => setF({ ...f, next: e.target.value })} />
        </Field>
        <Field label="Confirm" htmlFor="pw-conf">
          <input id="pw-conf" type="password" autoComplete="new-password" className={inputCls} value={f.confirm} onChange={(e) => setF({ ...f, confirm: e.target.value })} />
        </Field>
        <div className="sm:col-span-3">
          <Button type="submit" variant="primary" disabled={!f.next || !!problem || f.next !== f.confirm} busy={change.isPending}>
            Change password
          </Button>
        </div>
        <div className="sm:col-span-3">
          <InlineError error={change.error} />
        </div>
      </form>
    </Card>
  );
}

const TABS = [
  ["general", "General"],
  ["certificates", "Certificates"],
] as const;

export default function Settings() {
  const { tab = "general" } = useParams();
  return (
    <div className="space-y-5">
      <PageHeader title="Settings" />
      <nav className="flex gap-1 overflow-x-auto border-b border-zinc-200 dark:border-zinc-800" aria-label="Settings sections">
        {TABS.map(([t, label]) => (
          <NavLink
            key={t}
            to={t === "general" ? "/settings" : `/settings/${t}`}
            className={() => cx("-mb-px border-b-2 px-3 py-2 text-[13px] font-medium", tab === t ? "border-zinc-900 text-zinc-900 dark:border-white dark:text-white" : "border-transparent text-zinc-500 hover:text-zinc-800 dark:hover:text-zinc-200")}
            aria-current={tab === t ? "page" : undefined}
          >
            {label}
          </NavLink>
        ))}
      </nav>
      {tab === "certificates" ? (
        <Certificates />
      ) : (
        <>
          <Users />
          <Tokens />
          <Password />
        </>
      )}
    </div>
  );
}
