import { render } from "@testing-library/react";
import { QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router";
import type { ReactElement } from "react";
import { makeQueryClient } from "../src/App";
import { saveAuth } from "../src/api/auth";
import type { Role } from "../src/api/types";

export function loginAs(role: Role = "admin") {
  saveAuth({ user: "alice", role, via: "session", csrf: "csrf-1", token: "qx_t1_secret", tokenId: "t1" });
}

export function renderAt(path: string, routes: Record<string, ReactElement>) {
  const qc = makeQueryClient();
  qc.setDefaultOptions({ queries: { ...qc.getDefaultOptions().queries, retry: false } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          {Object.entries(routes).map(([p, el]) => (
            <Route key={p} path={p} element={el} />
          ))}
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}
