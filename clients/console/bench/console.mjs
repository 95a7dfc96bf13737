// Measures the console as an admin sees it, against release nodes (GONGHUI_BIN, default
// target/release/gonghui): apply over HTTP on one node → the row in the console's DOM on
// the other, p50/p99 over N applications; then the page's JS heap before and after
// MINUTES of 10 events a second on a page that shows a bounded amount of data.
//   node bench/console.mjs [applications=200] [minutes=10]   → bench/results.json
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

process.env.GONGHUI_BIN ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../target/release/gonghui");
const { browser, idNumber, loginWithPassword, startCluster } = await import("../test/browser.mjs");

const APPLICATIONS = Number(process.argv[2] ?? 200);
const MINUTES = Number(process.argv[3] ?? 10);
const ADMIN = "13800000000";
const PASSWORD = "bench-admin-pass";

const cluster = await startCluster({ nodes: 2 });
const chrome = await browser();
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function call(node, token, method, url, body) {
  const answer = await fetch(`${cluster.http[node]}/api/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(`${method} ${url}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

try {
  const root = cluster.bootstrap(ADMIN, PASSWORD);
  const members = [];
  for (let n = 0; n < APPLICATIONS; n += 20) {
    const batch = Array.from({ length: Math.min(20, APPLICATIONS - n) }, (_, i) => n + i);
    members.push(
      ...(await Promise.all(
        batch.map(async (k) => {
          const m = await cluster.login(`134${String(k).padStart(8, "0")}`, "app");
          await call(0, m.token, "POST", "/me/verification", { name: `申请人${k}`, id_number: idNumber(70_000 + k) });
          return m;
        }),
      )),
    );
  }

  const page = await loginWithPassword(await chrome.newContext(), cluster.http[1], ADMIN, PASSWORD);
  // Stamp each queue row the moment it enters the DOM.
  await page.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll("[data-test^=applicant-]")) {
        const id = el.getAttribute("data-test").slice("applicant-".length);
        window.__seen[id] ??= Date.now();
      }
    }).observe(document.body, { childList: true, subtree: true });
  });
  const sent = {};
  for (const m of members) {
    const before = Date.now();
    const application = await call(0, m.token, "POST", `/unions/${root}/applications`, { kind: "join" });
    sent[application.id] = before;
    await new Promise((r) => setTimeout(r, 50));
  }
  await page.waitForFunction((n) => Object.keys(window.__seen).length >= n, APPLICATIONS, { timeout: 60_000 });
  const seen = await page.evaluate(() => window.__seen);
  const inOrder = Object.entries(sent).map(([id, at]) => seen[id] - at);
  const slow = inOrder.map((ms, i) => [i, ms]).filter(([, ms]) => ms > 500);
  if (slow.length) console.error(`over 500 ms (application #, ms): ${JSON.stringify(slow)}`);
  const latencies = [...inOrder].sort((a, b) => a - b);

  // The heap: the members page follows the union's topic and shows one page of the roster.
  await page.click("text=会员管理");
  await page.waitForSelector("[data-test=roster]");
  const cdp = await page.context().newCDPSession(page);
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return (await cdp.send("Runtime.getHeapUsage")).usedSize;
  };
  const heapBefore = await heap();
  const admin = await cluster.login(ADMIN, "console");
  const end = Date.now() + MINUTES * 60_000;
  let events = 0;
  // A sample a minute, so a slow leak shows as a slope and a warm-up as a step.
  const samples = [];
  let nextSample = Date.now() + 60_000;
  while (Date.now() < end) {
    const tick = Date.now();
    await call(0, admin.token, "POST", `/unions/${root}/announcements`, { title: "通知", body: `第${events}条` });
    events++;
    if (Date.now() >= nextSample) {
      samples.push(Number(((await heap()) / 1048576).toFixed(2)));
      nextSample += 60_000;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const heapAfter = await heap();

  const results = {
    machine: "2 cores, release nodes, headless Chromium, all on one box",
    applications: APPLICATIONS,
    apply_to_dom_ms: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) },
    heap: { minutes: MINUTES, events, before_mib: heapBefore / 1048576, after_mib: heapAfter / 1048576, per_minute_mib: samples },
  };
  console.log(JSON.stringify(results, null, 2));
  writeFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "results.json"), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  await chrome.close();
  await cluster.stop();
}
