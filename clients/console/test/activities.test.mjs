import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PASSWORD, boot, importMembers, loginWithPassword, shot, stop } from "./browser.mjs";

let cluster;
let chrome;
let root;
/** The members test 1 logs in, whom test 2 lets draw too. */
let members = [];

before(async () => ({ cluster, root, chrome } = await boot({ nodes: 1 })));
after(() => stop({ cluster, chrome }));

test("a vote made and published in the console; 200 members vote and the chart ends on the database's tally", async () => {
  const admin = await cluster.login(ADMIN, "console");
  const phones = await importMembers(cluster, admin.token, root, 200);
  for (let i = 0; i < phones.length; i += 20) {
    members.push(...(await Promise.all(phones.slice(i, i + 20).map((p) => cluster.login(p, "app")))));
  }

  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=会员活动");
  await page.click("[data-test=new-activity]");
  await page.fill("input[name=title]", "职工之家命名投票");
  await page.fill("input[name=option-0]", "温馨家园");
  await page.fill("input[name=option-1]", "职工驿站");
  await page.click("[data-test=save-activity]");
  await page.waitForSelector("[data-test=activities] tbody tr:has-text('职工之家命名投票')");
  const id = Number((await page.getAttribute("[data-test^=status-]", "data-test")).split("-")[1]);
  await page.click(`[data-test=publish-${id}]`);
  await page.waitForSelector(`[data-test=status-${id}][data-status=published]`);
  await page.click(`[data-test=results-${id}]`);
  await page.waitForSelector("[data-test=chart]");

  let voted = 0;
  for (let i = 0; i < members.length; i += 20) {
    await Promise.all(
      members.slice(i, i + 20).map(async (m, j) => {
        const answer = await fetch(`${cluster.http[0]}/api/v1/activities/${id}/answers`, {
          method: "POST",
          headers: { authorization: `Bearer ${m.token}`, "content-type": "application/json" },
          body: JSON.stringify({ choices: [(i + j) % 3 === 0 ? "a" : "b"] }),
        });
        assert.equal(answer.status, 201, await answer.text());
        voted++;
      }),
    );
  }
  assert.equal(voted, 200);
  const truth = Object.fromEntries(
    cluster
      .sqlValue(
        `SELECT c || '=' || count(*) FROM activity_answers, jsonb_array_elements_text(answer->'choices') c WHERE activity_id = ${id} GROUP BY c ORDER BY c`,
      )
      .split("\n")
      .map((line) => line.split("=")),
  );
  const expected = JSON.stringify({ a: Number(truth.a), b: Number(truth.b) });
  await page.waitForSelector(`[data-test=chart][data-tally='${expected}']`, { timeout: 30_000 });
  assert.match(await page.textContent("[data-test=participants]"), /200 人参加/);
  await shot(page, "activity-results");
});

test("a lottery: winners drawn over HTTP appear in the fulfilment list, a claimed prize is shipped from the console", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=会员活动");
  await page.click("[data-test=new-activity]");
  await page.click("[data-test=kind]");
  await page.click(".el-select-dropdown__item:has-text('抽奖')");
  await page.fill("input[name=title]", "新春抽奖");
  await page.fill("input[name=prize-0]", "电饭煲");
  await page.fill("[name=win-rate] input, input[name=win-rate]", "1");
  await page.click("[data-test=save-activity]");
  await page.waitForSelector("[data-test=activities] tbody tr:has-text('新春抽奖')");
  const id = Number(
    await page.$eval("[data-test=activities] tbody tr:has-text('新春抽奖') [data-test^=status-]", (el) => el.getAttribute("data-test").split("-")[1]),
  );
  await page.click(`[data-test=publish-${id}]`);
  await page.waitForSelector(`[data-test=status-${id}][data-status=published]`);
  await page.click(`[data-test=results-${id}]`);

  // Two members draw (win rate 1, one prize): the first wins, and claims with the address
  // wx.chooseAddress gives; the second finds none left.
  const winners = [];
  for (const m of members.slice(0, 2)) {
    const answer = await fetch(`${cluster.http[0]}/api/v1/activities/${id}/answers`, {
      method: "POST",
      headers: { authorization: `Bearer ${m.token}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(answer.status, 201, await answer.text());
    winners.push(m);
  }
  await page.waitForSelector("[data-test=deliveries] tbody tr:has-text('待填写地址')");
  assert.equal(await page.$$eval("[data-test=deliveries] tbody tr", (trs) => trs.length), 1);
  const claim = await fetch(`${cluster.http[0]}/api/v1/activities/${id}/prize/claim`, {
    method: "POST",
    headers: { authorization: `Bearer ${winners[0].token}`, "content-type": "application/json" },
    body: JSON.stringify({ userName: "会员0", telNumber: "13500000000", provinceName: "广东省", cityName: "广州市", countyName: "天河区", detailInfo: "体育西路1号" }),
  });
  assert.equal(claim.status, 204, await claim.text());
  // A claim is not an event for admins: the list is refreshed by hand.
  await page.click("[data-test=refresh-deliveries]");
  await page.waitForSelector(`[data-test=ship-${winners[0].user_id}]`);
  await page.click(`[data-test=ship-${winners[0].user_id}]`);
  await page.fill("input[name=carrier]", "顺丰");
  await page.fill("input[name=tracking]", "SF1234567890");
  await page.click("[data-test=confirm-ship]");
  await page.waitForSelector(`[data-test=shipped-${winners[0].user_id}]:has-text('SF1234567890')`);
  await shot(page, "activity-prizes");
});
