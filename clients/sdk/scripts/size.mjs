// The SDK's size as an app ships it: the core (everything but MessagePack) and the
// MessagePack codec, each bundled and minified by esbuild, then gzipped.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function size(stdin, external = []) {
  const out = await build({
    stdin: { contents: stdin, resolveDir: root, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    write: false,
    external,
  });
  const bytes = out.outputFiles[0].contents;
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const core = await size(`export * from "./src/index.ts";`, ["@msgpack/msgpack"]);
const msgpack = await size(`export { encode, decode } from "@msgpack/msgpack";`);
console.log(`core:            ${kib(core.min)} min, ${kib(core.gzip)} min+gzip`);
console.log(`msgpack codec:   ${kib(msgpack.min)} min, ${kib(msgpack.gzip)} min+gzip (loaded only with codec: "msgpack")`);
