import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, api, boot, idNumber, member, openAs, phone, snap, stop } from "./phone.mjs";

let cluster;
let chrome;
let root;
let adminToken;
let reader;

before(async () => {
  ({ cluster, root, chrome } = await boot({ nodes: 2 }));
  adminToken = (await cluster.login(ADMIN, "console")).token;
  reader = await member(cluster, adminToken, root, "13700000301", "周读者", idNumber(401));
});
after(() => stop({ cluster, chrome }));

test("an article published on one node appears in the feed on a phone on the other, and opens sanitised with lazy images", async () => {
  const home = await openAs(chrome, cluster, 1, reader.token, "/");
  await home.waitForSelector("text=暂无资讯");
  const draft = await api(cluster, 0, adminToken, "POST", `/unions/${root}/news`, {
    title: "省总工会开展职工健康月活动",
    digest: "活动持续一个月",
    body_html: `<p>详情如下。</p><img src="/h5/none.png" onerror="alert(1)"><script>alert(2)</script>`,
  });
  await api(cluster, 0, adminToken, "POST", `/news/${draft.id}/publish`);
  await home.waitForSelector(`[data-test=news-${draft.id}]:has-text('职工健康月')`);
  await home.click(`[data-test=news-${draft.id}]`);
  await home.waitForSelector(`[data-test=article-${draft.id}] h1:has-text('职工健康月')`);
  const body = await home.innerHTML("[data-test=article-body]");
  assert.match(body, /loading="lazy"/);
  assert.doesNotMatch(body, /onerror|<script/);
  await snap(home, "h5-article");
});

test("the first screen stays small: under 150 KB of gzipped JavaScript, at 375×667 and at 414×896", async () => {
  for (const size of ["small", "large"]) {
    const context = await phone(chrome, size);
    await context.addInitScript((t) => localStorage.setItem("gonghui.h5.token", t), reader.token);
    const page = await context.newPage();
    const scripts = [];
    page.on("requestfinished", async (request) => {
      if (request.resourceType() === "script") scripts.push((await request.sizes()).responseBodySize);
    });
    await page.goto(`${cluster.http[0]}/h5/`);
    await page.waitForSelector("[data-test=home-union]");
    await page.waitForLoadState("networkidle");
    const total = scripts.reduce((a, b) => a + b, 0);
    console.log(`first screen (${size}): ${scripts.length} scripts, ${(total / 1024).toFixed(1)} KiB gzipped`);
    assert.ok(scripts.every((s) => s > 0) && total < 150 * 1024, `${scripts} = ${total} bytes`);
    // Nothing wider than the phone.
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  }
});
