// Measures the H5 as members and admins see it, against two release nodes (GONGHUI_BIN,
// default target/release/gonghui), all on one machine:
// - member action → admin screen: a member applies over HTTP on node A → the item in an
//   admin's H5 queue (工会管理) on node B, p50/p99 over N applications;
// - admin action → member screen: an announcement sent on node A → the message in a
//   member's H5 inbox on node B, p50/p99 over N announcements;
// - the first screen on DevTools' "Fast 3G" profile (562.5 ms RTT, 180 KB/s down):
//   a cold load of the login page and of a logged-in member's home, median of 5.
//   node bench/h5.mjs [runs=200]   → bench/results.json
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

process.env.GONGHUI_BIN ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../target/release/gonghui");
const { browser, idNumber, startCluster } = await import("../../console/test/browser.mjs");
const { phone } = await import("../test/phone.mjs");

const RUNS = Number(process.argv[2] ?? 200);
const ADMIN = "13800000000";
const PASSWORD = "bench-admin-pass";
const FAST_3G = { offline: false, latency: 562.5, downloadThroughput: 180_000, uploadThroughput: 84_375 };

const cluster = await startCluster({ nodes: 2 });
const chrome = await browser();
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1) };
};

async function call(node, token, method, url, body) {
  const answer = await fetch(`${cluster.http[node]}/api/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(`${method} ${url}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** A phone of node `node` logged in as `token`, at `path`, stamping each `prefix` element as it enters the DOM. */
async function watching(node, token, pathname, prefix) {
  const context = await phone(chrome, "small");
  await context.addInitScript((t) => localStorage.setItem("gonghui.h5.token", t), token);
  const page = await context.newPage();
  await page.goto(`${cluster.http[node]}/h5${pathname}`);
  await page.waitForSelector("[data-test=connection][data-state=connected]", { state: "attached" });
  await page.evaluate((p) => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const el of document.querySelectorAll(`[data-test^=${p}]`)) window.__seen[el.getAttribute("data-test").slice(p.length)] ??= Date.now();
    }).observe(document.body, { childList: true, subtree: true });
  }, prefix);
  return page;
}

/** Sends RUNS actions 50 ms apart (each answers an id) and answers how long each took to show on `page`. */
async function timed(page, act) {
  const sent = {};
  for (let k = 0; k < RUNS; k++) {
    const before = Date.now();
    sent[await act(k)] = before;
    await new Promise((r) => setTimeout(r, 50));
  }
  await page.waitForFunction((ids) => ids.every((id) => window.__seen[id]), Object.keys(sent), { timeout: 60_000 });
  const seen = await page.evaluate(() => window.__seen);
  return Object.entries(sent).map(([id, at]) => seen[id] - at);
}

/** A cold load of `pathname` on Fast 3G until `selector` shows: milliseconds, median of 5. */
async function coldLoad(pathname, selector, token) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const context = await phone(chrome, "small");
    if (token) await context.addInitScript((t) => localStorage.setItem("gonghui.h5.token", t), token);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", FAST_3G);
    const start = Date.now();
    await page.goto(`${cluster.http[0]}/h5${pathname}`);
    await page.waitForSelector(selector, { timeout: 60_000 });
    times.push(Date.now() - start);
    await context.close();
  }
  return times.sort((a, b) => a - b)[2];
}

try {
  const root = cluster.bootstrap(ADMIN, PASSWORD);
  const admin = await cluster.login(ADMIN, "app");
  const applicants = [];
  for (let n = 0; n < RUNS; n += 20) {
    const batch = Array.from({ length: Math.min(20, RUNS - n) }, (_, i) => n + i);
    applicants.push(
      ...(await Promise.all(
        batch.map(async (k) => {
          const m = await cluster.login(`134${String(k).padStart(8, "0")}`, "app");
          await call(0, m.token, "POST", "/me/verification", { name: `申请人${k}`, id_number: idNumber(70_000 + k) });
          return m;
        }),
      )),
    );
  }

  // Member → admin: applications reach the admin's phone.
  const queue = await watching(1, admin.token, "/approvals", "pending-");
  const toAdmin = await timed(queue, async (k) => (await call(0, applicants[k].token, "POST", `/unions/${root}/applications`, { kind: "join" })).id);

  // Admin → member: a member (the first applicant, approved) gets announcements.
  const reader = applicants[0];
  const first = (await call(0, admin.token, "GET", `/unions/${root}/applications?status=pending`)).items.find((a) => a.user_id === reader.user_id);
  await call(0, admin.token, "POST", `/applications/${first.id}/approve`);
  const inbox = await watching(1, reader.token, "/inbox", "message-");
  await inbox.waitForSelector("[data-test^=message-]");
  const toMember = await timed(inbox, async (k) => (await call(0, admin.token, "POST", `/unions/${root}/announcements`, { title: "通知", body: `第${k}条` })).id);

  const results = {
    machine: "2 cores, release nodes, headless Chromium, all on one box",
    runs: RUNS,
    member_to_admin_ms: summary(toAdmin),
    admin_to_member_ms: summary(toMember),
    fast_3g_cold_ms: {
      login: await coldLoad("/login", "[data-test=login]"),
      home_logged_in: await coldLoad("/", "[data-test=home-union]", reader.token),
    },
  };
  console.log(JSON.stringify(results, null, 2));
  writeFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "results.json"), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  await chrome.close();
  await cluster.stop();
}
