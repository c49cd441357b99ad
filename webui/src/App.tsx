import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from "react";
import { BrowserRouter, Route, Routes, Link, useLocation } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { loadAuth, onAuthChange, saveAuth, takeHandoff, type Auth } from "./api/auth";
import { ApiError, Unreachable } from "./api/client";
import { installFailover, markMovedFrom, onReconnected } from "./api/connection";
import { startLive } from "./api/live";
import { Layout } from "./components/Layout";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { Toaster } from "./components/toast";
import { Spinner } from "./components/ui";
import { Login } from "./pages/Login";
import { Dashboard } from "./pages/Dashboard";

// Everything but the first screen loads on demand (keeps the initial JS small).
const Hosts = lazy(() => import("./pages/Hosts"));
const HostDetail = lazy(() => import("./pages/HostDetail"));
const Vms = lazy(() => import("./pages/Vms"));
const VmDetail = lazy(() => import("./pages/VmDetail"));
const VmCreate = lazy(() => import("./pages/VmCreate"));
const Storage = lazy(() => import("./pages/Storage"));
const Networking = lazy(() => import("./pages/Networking"));
const Events = lazy(() => import("./pages/Events"));
const Settings = lazy(() => import("./pages/Settings"));

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Live updates come from the event stream; a query is fresh until an event says otherwise.
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        // A peer that did not answer gets one more try (a blip); the failover logic
        // (connection.ts) decides whether it is gone.
        retry: (n, e) => (e instanceof Unreachable ? n < 1 : !(e instanceof ApiError && e.status < 500) && n < 2),
      },
    },
  });
}

function useAuth(): Auth | null {
  return useSyncExternalStore(onAuthChange, loadAuth);
}

function NotFound() {
  return (
    <div className="py-20 text-center">
      <p className="text-lg font-semibold">Nothing here</p>
      <Link className="text-indigo-600 hover:underline dark:text-indigo-400" to="/">
        Back to the dashboard
      </Link>
    </div>
  );
}

export function Shell({ qc }: { qc: QueryClient }) {
  const auth = useAuth();
  const loc = useLocation();
  useEffect(() => {
    if (!auth) {
      qc.clear();
      return;
    }
    const stop = startLive(qc);
    const off = onReconnected(() => void qc.invalidateQueries());
    return () => {
      stop();
      off();
    };
  }, [auth?.user, auth?.via, qc]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!auth) return <Login />;
  return (
    <Layout auth={auth}>
      <ErrorBoundary resetKey={loc.pathname}>
      <Suspense fallback={<Spinner />}>
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/hosts" element={<Hosts />} />
          <Route path="/hosts/:id" element={<HostDetail />} />
          <Route path="/vms" element={<Vms />} />
          <Route path="/vms/new" element={<VmCreate />} />
          <Route path="/vms/:id" element={<VmDetail />} />
          <Route path="/vms/:id/:tab" element={<VmDetail />} />
          <Route path="/storage" element={<Storage />} />
          <Route path="/networking" element={<Networking />} />
          <Route path="/events" element={<Events />} />
          <Route path="/settings" element={<Settings />} />
          <Route path="/settings/:tab" element={<Settings />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
      </ErrorBoundary>
    </Layout>
  );
}

export function App() {
  const [qc] = useState(makeQueryClient);
  useState(() => {
    // Credentials handed over by a member that stopped answering (see connection.ts).
    const h = takeHandoff();
    if (h) {
      saveAuth(h.auth);
      markMovedFrom(h.from);
    }
    installFailover();
    return null;
  });
  return (
    <QueryClientProvider client={qc}>
      <BrowserRouter>
        <Shell qc={qc} />
      </BrowserRouter>
      <Toaster />
    </QueryClientProvider>
  );
}
