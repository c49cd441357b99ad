/** Minimal toasts (aria-live), enough for action results. */
import { useSyncExternalStore } from "react";
import { CheckCircle2, XCircle } from "lucide-react";
import { cx } from "./ui";

interface Toast {
  id: number;
  text: string;
  ok: boolean;
}
let toasts: Toast[] = [];
let next = 1;
const subs = new Set<() => void>();
const emit = () => subs.forEach((f) => f());

export function toast(text: string, ok = true): void {
  const t = { id: next++, text, ok };
  toasts = [...toasts, t].slice(-4);
  emit();
  setTimeout(() => {
    toasts = toasts.filter((x) => x.id !== t.id);
    emit();
  }, 4500);
}

export function Toaster() {
  const list = useSyncExternalStore(
    (f) => {
      subs.add(f);
      return () => subs.delete(f);
    },
    () => toasts,
  );
  return (
    <div aria-live="polite" className="pointer-events-none fixed right-4 bottom-4 z-50 flex flex-col gap-2">
      {list.map((t) => (
        <div
          key={t.id}
          className={cx(
            "pointer-events-auto flex max-w-sm items-start gap-2 rounded-lg border bg-white px-3 py-2 shadow-lg dark:bg-zinc-900",
            t.ok ? "border-zinc-200 dark:border-zinc-800" : "border-red-200 dark:border-red-900",
          )}
        >
          {t.ok ? <CheckCircle2 className="mt-0.5 size-4 text-emerald-500" /> : <XCircle className="mt-0.5 size-4 text-red-500" />}
          <span>{t.text}</span>
        </div>
      ))}
    </div>
  );
}
