// The H5's browser tests: headless Chromium emulating phones (375×667 and 414×896, touch,
// WeChat's in-app browser's user agent) against real nodes, beside the console's helpers.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { api } from "../../console/test/browser.mjs";

export { ADMIN, PASSWORD, api, boot, creditCode, idNumber, loginWithCode, loginWithPassword, stop } from "../../console/test/browser.mjs";

/** The phones the app is checked on. */
export const PHONES = {
  small: { width: 375, height: 667 },
  large: { width: 414, height: 896 },
};

const WECHAT =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x18003237) NetType/WIFI Language/zh_CN";

/** A phone: a browser context of its own (its own storage, its own login). */
export function phone(chrome, size = "small", options = {}) {
  return chrome.newContext({
    viewport: PHONES[size],
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: WECHAT,
    locale: "zh-CN",
    ...options,
  });
}

/** Logs `number` in on the H5 of `base` by SMS code, as a member would; answers the page. */
export async function smsLogin(context, cluster, base, number) {
  const page = await context.newPage();
  await page.goto(`${base}/h5/`);
  await page.fill("input[name=phone]", number);
  await page.click("[data-test=send-code]");
  await page.waitForSelector("[data-test=send-code]:has-text('秒后重发')");
  await page.fill("input[name=code]", cluster.smsCode(number));
  await page.click("[data-test=login]");
  await page.waitForSelector("[data-test=connection][data-state=connected]", { state: "attached" });
  return page;
}

/** Lets `number` be sent another code now (a phone gets one a minute): its last one is made older. */
export function codeAgain(cluster, number) {
  cluster.sqlValue(`UPDATE sms_codes SET created_at = created_at - interval '2 minutes' WHERE phone = '${number}'`);
}

/** A member of `union`: registered, verified and approved over the API; answers `{token, user_id}`. */
export async function member(cluster, adminToken, union, number, name, id) {
  const m = await cluster.login(number, "app");
  await api(cluster, 0, m.token, "POST", "/me/verification", { name, id_number: id });
  const application = await api(cluster, 0, m.token, "POST", `/unions/${union}/applications`, { kind: "join" });
  await api(cluster, 0, adminToken, "POST", `/applications/${application.id}/approve`);
  return m;
}

/** A published activity of `union` open from now for a day. */
export async function activity(cluster, adminToken, union, form) {
  const now = Date.now();
  const created = await api(cluster, 0, adminToken, "POST", `/unions/${union}/activities`, {
    starts_at: new Date(now - 60_000).toISOString(),
    ends_at: new Date(now + 86_400_000).toISOString(),
    ...form,
  });
  await api(cluster, 0, adminToken, "POST", `/activities/${created.id}/publish`);
  return created;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.join(here, "..", "test-results");
mkdirSync(shots, { recursive: true });

/** Saves a screenshot of `page` as clients/h5/test-results/`name`.png, after checking that nothing on it is wider than the phone. */
export async function snap(page, name) {
  const [content, screen] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(content <= screen, `${name}: the page is ${content} px wide on a ${screen} px screen`);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** A phone already logged in as `token` (as after an earlier login there), open at `path` of node `node`. */
export async function openAs(chrome, cluster, node, token, path, size = "small") {
  const page = await (await phone(chrome, size)).newPage();
  await page.goto(`${cluster.http[node]}/h5/login`);
  await page.evaluate((t) => localStorage.setItem("gonghui.h5.token", t), token);
  await page.goto(`${cluster.http[node]}/h5${path}`);
  await page.waitForSelector("[data-test=connection][data-state=connected]", { state: "attached" });
  return page;
}
