import { fileURLToPath, URL } from "node:url";
import { VantResolver } from "@vant/auto-import-resolver";
import Components from "unplugin-vue-components/vite";
import { defineConfig } from "vite";
import { webApp } from "../web/vite.ts";

// Served by gonghui at /h5/ from the files embedded in its binary. Each page imports the
// Vant components it uses, with their styles, and nothing else; those the app uses are
// one chunk, not a request each: on a phone's network every request costs a round trip.
export default defineConfig(
  webApp(fileURLToPath(new URL(".", import.meta.url)), {
    plugins: [Components({ resolvers: [VantResolver()], dts: "src/components.d.ts" })],
    chunks: (id) => (/node_modules\/(vant|@vant)\//.test(id) ? "vant" : undefined),
  }),
);
