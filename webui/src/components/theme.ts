import { useCallback, useSyncExternalStore } from "react";

type Theme = "light" | "dark";
const subs = new Set<() => void>();
const current = (): Theme => (document.documentElement.classList.contains("dark") ? "dark" : "light");

export function useTheme(): { theme: Theme; toggle: () => void } {
  const theme = useSyncExternalStore(
    (f) => {
      subs.add(f);
      return () => subs.delete(f);
    },
    current,
  );
  const toggle = useCallback(() => {
    const next: Theme = current() === "dark" ? "light" : "dark";
    document.documentElement.classList.toggle("dark", next === "dark");
    try {
      localStorage.setItem("qx-theme", next);
    } catch {
      /* private mode: the choice lasts for this page */
    }
    subs.forEach((f) => f());
  }, []);
  return { theme, toggle };
}
