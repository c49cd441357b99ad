import { afterEach, vi } from "vitest";
import { cleanup } from "@testing-library/react";
import { saveAuth } from "../src/api/auth";

afterEach(() => {
  cleanup();
  saveAuth(null);
  sessionStorage.clear();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});
