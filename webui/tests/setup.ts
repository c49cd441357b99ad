import { afterEach, vi } from "vitest";
import { cleanup, configure } from "@testing-library/react";
import { saveAuth } from "../src/api/auth";

// The machine running the suite may be loaded (shared CI): wait on conditions
// with generous deadlines rather than failing on a slow tick.
configure({ asyncUtilTimeout: 10_000 });

afterEach(() => {
  cleanup();
  saveAuth(null);
  sessionStorage.clear();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});
