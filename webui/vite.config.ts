/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        // Few, cacheable files for the first load (a peer serves each request):
        // libraries, the app's shared code, and the heavy on-demand parts apart.
        manualChunks(id: string) {
          if (/node_modules\/(react|react-dom|scheduler|react-router|@tanstack|lucide-react|cookie|set-cookie-parser)\//.test(id)) return "vendor";
          if (/\/src\/(api|lib)\//.test(id) || /\/src\/components\/(ui|toast|theme)/.test(id)) return "app";
          return undefined;
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/setup.ts"],
    pool: "threads",
    maxWorkers: 1,
    testTimeout: 60_000,
  },
});
