import { fileURLToPath, URL } from "node:url";
import { VantResolver } from "@vant/auto-import-resolver";
import vue from "@vitejs/plugin-vue";
import Components from "unplugin-vue-components/vite";
import { defineConfig } from "vite";

// Served by gonghui at /h5/ from the files embedded in its binary.
export default defineConfig({
  base: "/h5/",
  // Each page imports the Vant components it uses, with their styles, and nothing else:
  // the first screen carries only what the login page needs.
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: "src/components.d.ts" })],
  resolve: {
    alias: {
      "@gonghui/client": fileURLToPath(new URL("../sdk/src/index.ts", import.meta.url)),
      "@": fileURLToPath(new URL("./src", import.meta.url)),
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
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
