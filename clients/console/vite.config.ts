import { fileURLToPath, URL } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// Served by gonghui at /console/ from the files embedded in its binary.
export default defineConfig({
  base: "/console/",
  plugins: [vue()],
  resolve: {
    alias: {
      "@gonghui/client": fileURLToPath(new URL("../sdk/src/index.ts", import.meta.url)),
      "@": fileURLToPath(new URL("./src", import.meta.url)),
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      output: {
        // The framework changes rarely: one long-cached chunk apart from the app's own code.
        manualChunks: (id) => (/node_modules\/(@vue|vue|vue-router|pinia)\//.test(id) ? "vendor" : undefined),
      },
    },
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080", "/ws": { target: "ws://127.0.0.1:8080", ws: true } },
  },
});
