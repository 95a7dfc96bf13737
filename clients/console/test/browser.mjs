// Headless Chromium (Debian's package) driven by playwright-core, against real nodes the
// SDK's cluster harness starts. Screenshots go to test-results/ (not committed).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export { startCluster } from "../../sdk/scripts/cluster.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const shots = path.join(here, "..", "test-results");
mkdirSync(shots, { recursive: true });

/** A headless browser; each test opens contexts (one per admin) in it. */
export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
}

/** Logs in on the console of `base` with a password; answers the page at the queue. */
export async function loginWithPassword(context, base, phone, password) {
  const page = await context.newPage();
  await page.goto(`${base}/console/`);
  await page.fill("input[name=phone]", phone);
  await page.fill("input[name=password]", password);
  await page.click("[data-test=login]");
  await page.waitForSelector("[data-test=connection][data-state=connected]");
  return page;
}

/** Saves a screenshot of `page` as test-results/`name`.png. */
export async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}
