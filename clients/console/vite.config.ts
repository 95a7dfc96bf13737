import { fileURLToPath, URL } from "node:url";
import { defineConfig } from "vite";
import { webApp } from "../web/vite.ts";

// Served by gonghui at /console/ from the files embedded in its binary.
export default defineConfig(webApp(fileURLToPath(new URL(".", import.meta.url)), { chunkSizeWarningLimit: 1024 }));
