import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, api, boot, codeAgain, idNumber, member, openAs, phone, snap, stop } from "./phone.mjs";

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

test("a member sets a password on the phone with an SMS code, then logs in with it on another phone", async () => {
  const page = await openAs(chrome, cluster, 0, reader.token, "/password");
  codeAgain(cluster, "13700000301");
  await page.click("[data-test=send-code]");
  await page.waitForSelector("[data-test=send-code]:has-text('秒后重发')");
  await page.fill("input[name=code]", cluster.smsCode("13700000301"));
  await page.fill("input[name=password]", "short");
  await page.fill("input[name=again]", "short");
  await page.click("[data-test=save-password]");
  await page.waitForSelector("text=密码至少 8 位");
  await page.fill("input[name=password]", "member-pass-1");
  await page.fill("input[name=again]", "member-pass-1");
  await page.click("[data-test=save-password]");
  await page.waitForURL(/\/h5\/me$/);

  const other = await (await phone(chrome, "large")).newPage();
  await other.goto(`${cluster.http[1]}/h5/`);
  await other.click("text=密码登录");
  await other.fill("input[name=phone]", "13700000301");
  await other.fill("input[name=password]", "wrong-pass-1");
  await other.click("[data-test=login]");
  await other.waitForSelector("[data-test=login-error]");
  await other.fill("input[name=password]", "member-pass-1");
  await other.click("[data-test=login]");
  await other.waitForSelector("[data-test=home-union]");
});
