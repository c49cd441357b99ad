import { useState, type FormEvent } from "react";
import { ApiError, errorText } from "../api/client";
import { login } from "../api/session";
import { Button, Field, inputCls } from "../components/ui";

export function Login() {
  const [username, setUser] = useState("admin");
  const [password, setPw] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await login(username, password);
    } catch (x) {
      setErr(x instanceof ApiError && x.code === "invalid_credentials" ? "Wrong user name or password." : errorText(x));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="flex min-h-screen items-center justify-center bg-[radial-gradient(ellipse_at_top,_var(--tw-gradient-stops))] from-indigo-100 via-zinc-50 to-zinc-50 p-4 dark:from-indigo-950/60 dark:via-zinc-950 dark:to-zinc-950">
      <form onSubmit={submit} className="w-full max-w-sm space-y-5 rounded-2xl border border-zinc-200 bg-white p-7 shadow-xl shadow-zinc-900/5 dark:border-zinc-800 dark:bg-zinc-900" aria-label="Log in">
        <div className="space-y-1">
          <div className="mb-4 grid size-10 place-items-center rounded-xl bg-gradient-to-br from-indigo-500 to-violet-600 text-lg font-bold text-white">Q</div>
          <h1 className="text-lg font-semibold tracking-tight">Sign in to Quantix</h1>
          <p className="text-zinc-500">Through {window.location.host} — any host of the cluster will do.</p>
        </div>
        <Field label="User name" htmlFor="username">
          <input id="username" className={inputCls} autoComplete="username" value={username} onChange={(e) => setUser(e.target.value)} required />
        </Field>
        <Field label="Password" htmlFor="password">
          <input id="password" type="password" className={inputCls} autoComplete="current-password" value={password} onChange={(e) => setPw(e.target.value)} required autoFocus />
        </Field>
        {err && (
          <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-red-700 dark:bg-red-500/10 dark:text-red-400">
            {err}
          </p>
        )}
        <Button type="submit" variant="primary" busy={busy} className="h-9 w-full">
          Sign in
        </Button>
      </form>
    </div>
  );
}
