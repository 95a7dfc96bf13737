// The web app the binary embeds (dist/, committed) must be what its sources build: run in
// an app's folder (console, h5), this builds them into a scratch folder and fails on any
// difference. `npm run build` there fixes it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "vite";

const root = process.cwd();
const app = path.basename(root);
const scratch = mkdtempSync(path.join(tmpdir(), `${app}-dist-`));

function files(dir, prefix = "") {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

try {
  await build({ root, logLevel: "error", build: { outDir: scratch, emptyOutDir: true } });
  const built = files(scratch).sort();
  const committed = files(path.join(root, "dist")).sort();
  const differ = [
    ...built.filter((f) => !committed.includes(f)).map((f) => `missing from dist/: ${f}`),
    ...committed.filter((f) => !built.includes(f)).map((f) => `stale in dist/: ${f}`),
    ...built
      .filter((f) => committed.includes(f))
      .filter((f) => !readFileSync(path.join(scratch, f)).equals(readFileSync(path.join(root, "dist", f))))
      .map((f) => `differs: ${f}`),
  ];
  if (differ.length) {
    console.error(`clients/${app}/dist is not what the sources build (run npm run build there):\n${differ.join("\n")}`);
    process.exit(1);
  }
  console.log(`clients/${app}/dist matches its sources (${built.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
