import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { browser, importMembers, loginWithPassword, shot, startCluster } from "./browser.mjs";

const ADMIN = "13800000000";
const PASSWORD = "console-admin-pass";
let cluster;
let chrome;
let root;

before(async () => {
  cluster = await startCluster({ nodes: 1 });
  root = cluster.bootstrap(ADMIN, PASSWORD);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await cluster?.stop();
});

test("a vote made and published in the console; 200 members vote and the chart ends on the database's tally", async () => {
  const admin = await cluster.login(ADMIN, "console");
  const phones = await importMembers(cluster, admin.token, root, 200);
  const members = [];
  for (let i = 0; i < phones.length; i += 20) {
    members.push(...(await Promise.all(phones.slice(i, i + 20).map((p) => cluster.login(p, "app")))));
  }

  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=会员活动");
  await page.click("[data-test=new-vote]");
  await page.fill("input[name=title]", "职工之家命名投票");
  await page.fill("input[name=option-0]", "温馨家园");
  await page.fill("input[name=option-1]", "职工驿站");
  await page.click("[data-test=save-vote]");
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
