// Headless Chromium (Debian's package) driven by playwright-core, against real nodes the
// SDK's cluster harness starts. Screenshots go to test-results/ (not committed).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

import { startCluster } from "../../sdk/scripts/cluster.mjs";

export { startCluster };

/** The root admin every console test logs in as. */
export const ADMIN = "13800000000";
export const PASSWORD = "console-admin-pass";

/** Nodes with the root union and its admin, and a browser: what each test file starts with. */
export async function boot(options) {
  const cluster = await startCluster(options);
  const root = cluster.bootstrap(ADMIN, PASSWORD);
  return { cluster, root, chrome: await browser() };
}

/** Stops what `boot` started. */
export async function stop({ cluster, chrome }) {
  await chrome?.close();
  await cluster?.stop();
}

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

/** Logs `phone` in on the console of `base` by SMS code (the tests' SMS sink); answers the page. */
export async function loginWithCode(context, cluster, base, phone) {
  const page = await context.newPage();
  await page.goto(`${base}/console/`);
  await page.click("text=验证码登录");
  await page.fill("input[name=phone]", phone);
  await page.click("[data-test=send-code]");
  await page.waitForSelector("[data-test=send-code]:has-text('秒后重发')");
  await page.fill("input[name=code]", cluster.smsCode(phone));
  await page.click("[data-test=login]");
  return page;
}

/** One API call to node `node` as `token`; fails the test on an error answer. */
export async function api(cluster, node, token, method, url, body) {
  const answer = await fetch(`${cluster.http[node]}/api/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(answer.ok, `${method} ${url}: ${answer.status} ${await answer.clone().text()}`);
  return answer.status === 204 ? null : answer.json();
}

/** Saves a screenshot of `page` as test-results/`name`.png. */
export async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** The GB 11643 ID number of test person `n` (n < 100,000). */
export function idNumber(n) {
  const born = new Date(Date.UTC(1990, 2, 7) + Math.floor(n / 1000) * 86_400_000);
  const day = born.toISOString().slice(0, 10).replaceAll("-", "");
  const body = `440101${day}${String(n % 1000).padStart(3, "0")}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, d, i) => acc + Number(d) * weights[i], 0);
  return body + "10X98765432"[sum % 11];
}

/** Imports `count` members into `union` over the API as `token`; answers their phones. */
export async function importMembers(cluster, token, union, count) {
  const phones = Array.from({ length: count }, (_, n) => `135${String(n).padStart(8, "0")}`);
  const rows = phones.map((phone, n) => `会员${n},${phone},${idNumber(50_000 + n)}`);
  const answer = await fetch(`${cluster.http[0]}/api/v1/unions/${union}/members/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "text/csv" },
    body: ["姓名,手机号,身份证号", ...rows].join("\n"),
  });
  const report = await answer.json();
  if (report.changed !== count) throw new Error(`import: ${JSON.stringify(report).slice(0, 300)}`);
  return phones;
}

/** A GB 32100-2015 credit code, different for each `n`. */
export function creditCode(n) {
  const chars = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  const body = `91440101MA${String(n).padStart(7, "0")}`;
  const sum = [...body].reduce((acc, c, i) => acc + chars.indexOf(c) * weights[i], 0);
  return body + chars[(31 - (sum % 31)) % 31];
}
