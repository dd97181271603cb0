import { defineConfig } from "vitest/config";

// The bundle ships inside the Python package and is served at <prefix>/webui/:
// base "./" makes every asset URL relative, so any gateway stage or prefix works.
export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../layers/core/lambdarag/webui",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 600,
  },
  worker: { format: "es" },
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});
