import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { ADMIN, PASSWORD, activity, boot, codeAgain, idNumber, loginWithPassword, member, openAs, phone, snap, stop } from "./phone.mjs";

let cluster;
let chrome;
let root;
let adminToken;
const members = [];

before(async () => {
  ({ cluster, root, chrome } = await boot({ nodes: 2 }));
  adminToken = (await cluster.login(ADMIN, "console")).token;
  for (let n = 0; n < 3; n++) members.push(await member(cluster, adminToken, root, `1370000010${n}`, `会员${n}`, idNumber(200 + n)));
});
after(() => stop({ cluster, chrome }));

test("two members vote on two phones; a third phone's results move live to the final tally", async () => {
  const vote = await activity(cluster, adminToken, root, {
    kind: "vote",
    title: "职工之家命名",
    config: { options: [{ id: "a", text: "暖心家园" }, { id: "b", text: "职工驿站" }, { id: "c", text: "工友之家" }], max_choices: 1 },
  });
  const watcher = await openAs(chrome, cluster, 1, members[2].token, `/activities/${vote.id}`, "large");
  await watcher.waitForSelector("[data-test=participants][data-count='0']");
  const voters = [await openAs(chrome, cluster, 0, members[0].token, `/activities/${vote.id}`), await openAs(chrome, cluster, 1, members[1].token, `/activities/${vote.id}`)];
  for (const [i, page] of voters.entries()) {
    await page.click(`[data-test=choice-${i === 0 ? "a" : "b"}]`);
    await page.click("[data-test=submit-answer]");
    await page.waitForSelector("[data-test=receipt]");
  }
  await watcher.waitForSelector("[data-test=participants][data-count='2']");
  await watcher.waitForSelector("[data-test=result-a][data-count='1']");
  await watcher.waitForSelector("[data-test=result-b][data-count='1']");
  assert.equal(await watcher.getAttribute("[data-test=result-c]", "data-count"), "0");
  assert.match(await watcher.textContent("[data-test=result-a]"), /1 票 · 50%/);
  await snap(watcher, "h5-vote-results");
  // On another phone of the first voter (nothing kept there): the receipt, not the form.
  const again = await openAs(chrome, cluster, 1, members[0].token, `/activities/${vote.id}`, "large");
  await again.waitForSelector("[data-test=receipt]");
  assert.equal(await again.$("[data-test=submit-answer]"), null);
});

test("a lottery win is claimed with an address, shipped in the console, and the tracking number appears on the phone live", async () => {
  const lottery = await activity(cluster, adminToken, root, {
    kind: "lottery",
    title: "新春抽奖",
    config: { prizes: [{ id: "p1", name: "电饭煲", quantity: 1 }], win_rate: 1 },
  });
  const winner = members[1];
  const page = await openAs(chrome, cluster, 0, winner.token, `/activities/${lottery.id}`);
  await page.click("[data-test=submit-answer]");
  await page.waitForSelector("[data-test=won]:has-text('电饭煲')");
  await page.click("[data-test=open-claim]");
  const address = { userName: "会员1", telNumber: "13700000101", provinceName: "广东省", cityName: "广州市", countyName: "天河区", detailInfo: "体育西路 1 号", postalCode: "510000" };
  for (const [name, value] of Object.entries(address)) await page.fill(`[data-test=claim-form] [name=${name}]`, value);
  await page.click("[data-test=claim]");
  await page.waitForSelector("[data-test=open-claim]:has-text('修改收货地址')");

  await page.click(".van-nav-bar__left");
  await page.goto(`${cluster.http[0]}/h5/prizes`);
  await page.waitForSelector(`[data-test=prize-${lottery.id}][data-shipped=no]:has-text('体育西路 1 号')`);
  await page.evaluate(() => (window.notReloaded = true));

  const console = await loginWithPassword(await chrome.newContext(), cluster.http[1], ADMIN, PASSWORD);
  await console.click("text=会员活动");
  await console.click(`[data-test=results-${lottery.id}]`);
  await console.click(`[data-test=ship-${winner.user_id}]`);
  await console.fill("input[name=carrier]", "顺丰");
  await console.fill("input[name=tracking]", "SF1234567890");
  await console.click("[data-test=confirm-ship]");

  await page.waitForSelector(`[data-test=prize-${lottery.id}][data-shipped=yes] [data-test=tracking]:has-text('SF1234567890')`);
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  await snap(page, "h5-prize-shipped");
});

test("the 葵花码: its PNG decodes to the activity's link, which opens the activity's page (after logging in)", async () => {
  const signup = await activity(cluster, adminToken, root, {
    kind: "signup",
    title: "健步走报名",
    config: { capacity: 50, fields: [{ id: "team", label: "队伍", required: true }] },
  });
  const png = await fetch(`${cluster.http[0]}/api/v1/activities/${signup.id}/code?format=png`, { headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(png.status, 200);
  const image = PNG.sync.read(Buffer.from(await png.arrayBuffer()));
  const code = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  assert.ok(code, "the PNG holds a readable code");
  assert.equal(code.data, `${cluster.http[0]}/activities/${signup.id}`);

  // A member's phone, not logged in here yet, opens the link: login, then the activity.
  codeAgain(cluster, "13700000100");
  const context = await phone(chrome);
  const page = await context.newPage();
  await page.goto(code.data);
  await page.waitForURL(/\/h5\/login\?next=/);
  await page.fill("input[name=phone]", "13700000100");
  await page.click("[data-test=send-code]");
  await page.waitForSelector("[data-test=send-code]:has-text('秒后重发')");
  await page.fill("input[name=code]", cluster.smsCode("13700000100"));
  await page.click("[data-test=login]");
  await page.waitForSelector(`[data-test=activity-page-${signup.id}]:has-text('健步走报名')`);
  assert.equal(new URL(page.url()).pathname, `/h5/activities/${signup.id}`);
  await page.fill("[data-test=field-team] input", "第一队");
  await page.click("[data-test=submit-answer]");
  await page.waitForSelector("[data-test=result-seats][data-count='1']");
  await snap(page, "h5-signup");
});

test("a quiz: every question answered on the phone, the score and the prize on the receipt", async () => {
  const quiz = await activity(cluster, adminToken, root, {
    kind: "quiz",
    title: "安全生产知识答题",
    config: {
      questions: [
        { id: "q1", type: "single", text: "发现火情先做什么？", options: [{ id: "a", text: "报警" }, { id: "b", text: "拍照" }], answer: ["a"] },
        { id: "q2", type: "multiple", text: "哪些是劳动保护用品？", options: [{ id: "a", text: "安全帽" }, { id: "b", text: "手套" }, { id: "c", text: "耳机" }], answer: ["a", "b"] },
      ],
      pass_mark: 2,
      prize: { id: "cup", name: "保温杯", quantity: 5 },
    },
  });
  const page = await openAs(chrome, cluster, 1, members[0].token, `/activities/${quiz.id}`, "large");
  await page.click("[data-test=option-q1-a]");
  // Incomplete: the button stays disabled until every question is answered.
  assert.equal(await page.isDisabled("[data-test=submit-answer]"), true);
  await page.click("[data-test=option-q2-a]");
  await page.click("[data-test=option-q2-b]");
  await page.click("[data-test=submit-answer]");
  await page.waitForSelector("[data-test=receipt]:has-text('2（通过）')");
  await page.waitForSelector("[data-test=won]:has-text('保温杯')");
  await snap(page, "h5-quiz");
});
