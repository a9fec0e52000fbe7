/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The portal serves dist/ (portal/web.py): index.html for the UI's routes and the hashed files under /_loom/ui/,
// a prefix no portal or gateway route uses. Nothing is loaded from another origin and nothing is inlined, so the
// portal's Content-Security-Policy (script-src 'self') holds.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "_loom/ui",
    assetsInlineLimit: 0, // no data: URIs for our own assets: every file is a file
    sourcemap: false,
    chunkSizeWarningLimit: 4000, // GraphiQL (with CodeMirror) is one lazy chunk of ~3 MB, loaded on the Try it tab
  },
  server: {
    // `npm run dev` against a running `loom serve` on :8000
    proxy: Object.fromEntries(
      ["/api", "/login", "/logout", "/products", "/_loom/graphiql"].map((p) => [p, "http://127.0.0.1:8000"]),
    ),
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
