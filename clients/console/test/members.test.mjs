import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ADMIN, PASSWORD, boot, idNumber, loginWithPassword, shot, stop } from "./browser.mjs";

let cluster;
let chrome;

before(async () => ({ cluster, chrome } = await boot({ nodes: 1 })));
after(() => stop({ cluster, chrome }));

test("an import shows its progress and every failed row, and the roster has the good rows", async () => {
  const rows = Array.from({ length: 2_500 }, (_, n) => `工人${n},137${String(n).padStart(8, "0")},${idNumber(n)},广州机械厂`);
  rows.splice(10, 0, "坏身份证,13799999990,440101199003070011,广州机械厂");
  rows.splice(20, 0, "坏手机,12345,44010119900307000X,广州机械厂");
  const file = path.join(tmpdir(), `members-${process.pid}.csv`);
  writeFileSync(file, ["姓名,手机号,身份证号,工作单位", ...rows].join("\n"));

  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=会员管理");
  await page.waitForSelector("[data-test=roster]");
  await page.setInputFiles("[data-test=import-file]", file);
  await page.waitForSelector("[data-test=import-progress]");
  await page.waitForSelector("[data-test=import-summary]", { timeout: 60_000 });
  assert.match(await page.textContent("[data-test=import-summary]"), /新增 2500 人，未变 0 人，失败 2 行/);
  const failures = await page.$$eval("[data-test=import-failures] tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.equal(failures.length, 2);
  assert.match(failures[0], /^12.*id_number/);
  assert.match(failures[1], /^22.*phone/);
  assert.equal(await page.getAttribute("[data-test=import-progress]", "data-processed"), "2502");
  await shot(page, "members-import");

  await page.keyboard.press("Escape");
  await page.fill("input[placeholder='搜索姓名或手机号']", "工人2499");
  await page.press("input[placeholder='搜索姓名或手机号']", "Enter");
  await page.waitForSelector("[data-test=roster] tbody tr:has-text('13700002499')");
  await shot(page, "members");
});

test("retirement, removal and an announcement from the roster", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=会员管理");
  await page.waitForSelector("[data-test=roster] tbody tr:has-text('工人0')");
  const [first] = await page.$$eval("[data-test^=retire-]", (els) => els.map((e) => e.getAttribute("data-test")));
  const userId = first.split("-")[1];
  await page.click(`[data-test=${first}]`);
  await page.click(".el-message-box__btns .el-button--primary");
  await page.waitForSelector(`[data-test=${first}]`, { state: "detached" });
  assert.equal(cluster.sqlValue(`SELECT status FROM memberships WHERE user_id = ${userId}`), "retired");

  await page.click("[data-test=roster] tbody tr:first-child .el-checkbox");
  await page.click("[data-test=remove-chosen]");
  await page.fill(".el-message-box input", "调离本单位");
  await page.click(".el-message-box__btns .el-button--primary");
  await page.waitForSelector(".el-message--success");
  assert.equal(cluster.sqlValue("SELECT count(*) FROM memberships WHERE status = 'left' AND left_reason = '调离本单位'"), "1");

  await page.click("[data-test=announce]");
  await page.fill("input[name=notice-title]", "年终慰问");
  await page.fill("textarea[name=notice-body]", "请于周五到工会领取慰问品。");
  await page.click("[data-test=send-notice]");
  await page.waitForSelector("[data-test=send-notice]", { state: "hidden" });
  assert.equal(cluster.sqlValue("SELECT count(*) FROM notifications WHERE title = '年终慰问'"), "1");
});
