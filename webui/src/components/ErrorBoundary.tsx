import { Component, type ReactNode } from "react";
import { AlertTriangle } from "lucide-react";

/**
 * A page that throws shows this instead of a blank screen. The usual cause in
 * the field: the UI was rebuilt while this tab was open, so a page's chunk
 * (a hashed file) is gone — a reload fetches the new build.
 */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, { error: Error | null }> {
  state: { error: Error | null } = { error: null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  componentDidUpdate(prev: { resetKey?: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }
  render() {
    const e = this.state.error;
    if (!e) return this.props.children;
    const stale = /dynamically imported module|Importing a module script failed|Failed to fetch/i.test(e.message);
    return (
      <div role="alert" className="mx-auto max-w-lg py-20 text-center">
        <AlertTriangle className="mx-auto mb-3 size-6 text-amber-500" />
        <p className="font-semibold">{stale ? "This page could not be loaded" : "Something went wrong on this page"}</p>
        <p className="mt-1 text-zinc-500">{stale ? "The web UI may have been updated, or the host stopped answering." : e.message}</p>
        <button className="mt-4 rounded-md border border-zinc-200 px-3 py-1.5 dark:border-zinc-700" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
