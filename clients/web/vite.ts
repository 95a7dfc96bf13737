import path from "node:path";
import vue from "@vitejs/plugin-vue";
import type { PluginOption, UserConfig } from "vite";

/**
 * What the web apps gonghui serves share: served from the binary at `/{app}/`, the SDK
 * from its sources, the framework in one long-cached chunk apart from the app's own code
 * (plus the app's own `chunks`), and a dev server proxying to a node on :8080.
 */
export function webApp(root: string, options: { plugins?: PluginOption[]; chunks?: (id: string) => string | undefined; chunkSizeWarningLimit?: number }): UserConfig {
  const app = path.basename(root);
  return {
    base: `/${app}/`,
    plugins: [vue(), ...(options.plugins ?? [])],
    resolve: {
      alias: {
        "@gonghui/client": path.resolve(root, "../sdk/src/index.ts"),
        "@": path.resolve(root, "src"),
      },
    },
    build: {
      outDir: "dist",
      emptyOutDir: true,
      chunkSizeWarningLimit: options.chunkSizeWarningLimit,
      rollupOptions: {
        output: {
          manualChunks: (id) => (/node_modules\/(@vue|vue|vue-router|pinia)\//.test(id) ? "vendor" : options.chunks?.(id)),
        },
      },
    },
    server: {
      proxy: { "/api": "http://127.0.0.1:8080", "/ws": { target: "ws://127.0.0.1:8080", ws: true } },
    },
  };
}
