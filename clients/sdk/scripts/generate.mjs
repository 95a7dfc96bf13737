// Regenerates src/generated/ from a freshly started node: `npm run generate` after a
// change to the server's contract (cargo build first).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startCluster } from "./cluster.mjs";
import { generate } from "./contract.mjs";

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/generated");
const cluster = await startCluster();
try {
  for (const [name, text] of Object.entries(await generate(cluster.http[0]))) {
    writeFileSync(path.join(out, name), text);
    console.log(`wrote src/generated/${name}`);
  }
} finally {
  await cluster.stop();
}
