import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PASSWORD, activity, api, boot, codeAgain, creditCode, idNumber, loginWithCode, loginWithPassword, member, openAs, phone, smsLogin, snap, stop } from "./phone.mjs";

let cluster;
let chrome;
let root;
let adminToken;
/** A union beside the root's members: below the root, with none of them in it. */
let tianhe;

before(async () => {
  ({ cluster, root, chrome } = await boot({ nodes: 2 }));
  // The root union stands in Guangzhou, so a phone there finds it nearby.
  cluster.sqlValue(`UPDATE unions SET lat = 23.1291, lng = 113.2644, address = '广州市越秀区' WHERE id = ${root}`);
  adminToken = (await cluster.login(ADMIN, "console")).token;
  const csv = `工会名称,统一社会信用代码,纬度,经度\n天河区总工会,${creditCode(7)},23.1247,113.3612\n`;
  const imported = await fetch(`${cluster.http[0]}/api/v1/unions/${root}/tree/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "text/csv" },
    body: csv,
  });
  const report = await imported.json();
  assert.equal(report.applied, true, JSON.stringify(report));
  tianhe = report.rows[0].union_id;
});
after(() => stop({ cluster, chrome }));

/** Marks the page, so a later check can tell it was never reloaded. */
const mark = (page) => page.evaluate(() => (window.notReloaded = true));
const stillMarked = async (page) => assert.equal(await page.evaluate(() => window.notReloaded), true, "the page was reloaded");

test("a member registers by SMS, verifies, finds the union nearby and applies on node A; approved in the console on node B, both phones show the card live", async () => {
  const number = "13700000001";
  const a = await smsLogin(await phone(chrome, "small", { geolocation: { latitude: 23.13, longitude: 113.27 }, permissions: ["geolocation"] }), cluster, cluster.http[0], number);
  await a.waitForSelector("[data-test=find-union]");

  // 实名认证: a mistyped check digit is caught on the phone, nothing is sent.
  let sent = 0;
  a.on("request", (r) => r.url().endsWith("/me/verification") && sent++);
  await a.click("[data-test=tab-me]");
  await a.click("[data-test=go-verify]");
  await a.fill("input[name=name]", "陈小红");
  const id = idNumber(101);
  const wrong = id.slice(0, 17) + (id[17] === "1" ? "2" : "1");
  await a.fill("input[name=id_number]", wrong);
  await a.click("[data-test=verify]");
  await a.waitForSelector("text=身份证号校验位不正确");
  assert.equal(sent, 0);
  await a.fill("input[name=id_number]", id);
  await a.click("[data-test=verify]");

  // Nearby: the phone's position, the union on the map and in the list; apply.
  await a.waitForURL(/\/h5\/unions$/);
  await a.click("[data-test=locate]");
  await a.waitForSelector(`[data-test=union-${root}]:has-text('广东省总工会')`);
  assert.match(await a.textContent(`[data-test=union-${root}]`), /\d+(\.\d)? (米|公里)/);
  await a.waitForSelector("[data-test=map]");
  await a.click(`[data-test=apply-${root}]`);
  await a.click(".van-dialog__confirm");
  await a.waitForSelector("[data-test^=application-][data-status=pending]");
  const application = Number((await a.getAttribute("[data-test^=application-]", "data-test")).split("-")[1]);
  await snap(a, "h5-applied");

  // To the card, inside the app.
  await a.click(".van-nav-bar__left");
  await a.click("[data-test=go-card]");
  await a.waitForSelector("[data-test=no-card]");

  // The same member's second phone, on the other node.
  codeAgain(cluster, number);
  const b = await smsLogin(await phone(chrome, "large"), cluster, cluster.http[1], number);
  await b.click("[data-test=tab-me]");
  await b.click("[data-test=go-card]");
  await b.waitForSelector(`[data-test=application-${application}][data-status=pending]`);
  await mark(a);
  await mark(b);

  // The admin approves in the console of node B.
  const console = await loginWithPassword(await chrome.newContext(), cluster.http[1], ADMIN, PASSWORD);
  await console.click(`[data-test=approve-${application}]`);

  for (const page of [a, b]) {
    await page.waitForSelector("[data-test=card][data-status=active]");
    await page.waitForSelector("[data-test=card-union]:has-text('广东省总工会')");
    await page.waitForSelector(`[data-test=application-${application}][data-status=approved]`);
    await stillMarked(page);
  }
  await snap(a, "h5-card-375");
  await snap(b, "h5-card-414");
});

test("an admin approves in the H5 while another admin watches the console on the other node: it leaves the console's queue and the member's H5 shows the card", async () => {
  // A second admin, for the console, who logs in by SMS code.
  const second = Number(cluster.sqlValue("INSERT INTO users (phone) VALUES ('13800000002') RETURNING id"));
  await api(cluster, 0, adminToken, "PUT", `/unions/${root}/admins/${second}`, { permissions: ["members.review"] });
  const watcher = await loginWithCode(await chrome.newContext(), cluster, cluster.http[1], "13800000002");
  await watcher.waitForSelector("[data-test=connection][data-state=connected]");

  // The applicant waits on their card page, on node B.
  const applicant = await smsLogin(await phone(chrome, "small"), cluster, cluster.http[1], "13700000002");
  const token = await applicant.evaluate(() => localStorage.getItem("gonghui.h5.token"));
  await api(cluster, 1, token, "POST", "/me/verification", { name: "李四", id_number: idNumber(102) });
  const application = await api(cluster, 1, token, "POST", `/unions/${root}/applications`, { kind: "join", note: "在本单位工作" });
  await applicant.click("[data-test=tab-me]");
  await applicant.click("[data-test=go-card]");
  await applicant.waitForSelector(`[data-test=application-${application.id}][data-status=pending]`);
  await watcher.waitForSelector(`[data-test=applicant-${application.id}]`);

  // The root admin, on a phone on node A: 我的 → 工会管理.
  const admin = await (await phone(chrome, "large")).newPage();
  await admin.goto(`${cluster.http[0]}/h5/`);
  await admin.click("text=密码登录");
  await admin.fill("input[name=phone]", ADMIN);
  await admin.fill("input[name=password]", PASSWORD);
  await admin.click("[data-test=login]");
  await admin.waitForSelector("[data-test=connection][data-state=connected]", { state: "attached" });
  await admin.click("[data-test=tab-me]");
  await admin.click("[data-test=go-approvals]");
  await admin.waitForSelector(`[data-test=pending-${application.id}]:has-text('李四')`);
  assert.match(await admin.textContent(`[data-test=pending-${application.id}]`), /在本单位工作/);
  await snap(admin, "h5-approvals");
  await admin.click(`[data-test=approve-${application.id}]`);
  await admin.waitForSelector(`[data-test=pending-${application.id}]`, { state: "detached" });

  await watcher.waitForSelector(`[data-test=decided-${application.id}][data-status=approved]`);
  await applicant.waitForSelector("[data-test=card][data-status=active]");

  // And the other way: decided in the console, it leaves the phone's list.
  const third = await cluster.login("13700000003", "app");
  await api(cluster, 0, third.token, "POST", "/me/verification", { name: "王五", id_number: idNumber(103) });
  const next = await api(cluster, 0, third.token, "POST", `/unions/${root}/applications`, { kind: "join" });
  await admin.waitForSelector(`[data-test=pending-${next.id}]`);
  await watcher.click(`[data-test=approve-${next.id}]`);
  await admin.waitForSelector(`[data-test=pending-${next.id}]`, { state: "detached" });
  await admin.waitForSelector("[data-test=queue-empty]");
});

test("another union's activity shows a clear refusal, not a blank page", async () => {
  // An activity of a union beside the member's…
  const vote = await activity(cluster, adminToken, tianhe, {
    kind: "vote",
    title: "天河区投票",
    config: { options: [{ id: "a", text: "甲" }, { id: "b", text: "乙" }], max_choices: 1 },
  });
  // …and a member of the root union, who is not in its audience.
  const outsider = await member(cluster, adminToken, root, "13700000004", "赵六", idNumber(104));
  const page = await (await phone(chrome)).newPage();
  await page.goto(`${cluster.http[0]}/h5/login`);
  await page.evaluate((t) => localStorage.setItem("gonghui.h5.token", t), outsider.token);
  await page.goto(`${cluster.http[0]}/h5/activities/${vote.id}`);
  await page.waitForSelector("[data-test=forbidden]");
  assert.match(await page.textContent("[data-test=forbidden]"), /无权查看此活动/);
  await snap(page, "h5-forbidden");
});

test("a member transfers (会籍转移) on the phone: found by name, applied, approved, and the card shows the new union live", async () => {
  const mover = await member(cluster, adminToken, root, "13700000005", "孙七", idNumber(105));
  const page = await openAs(chrome, cluster, 0, mover.token, "/card");
  await page.waitForSelector("[data-test=card-union]:has-text('广东省总工会')");
  await page.click("[data-test=transfer]");
  await page.click("text=按名称");
  await page.fill("[data-test=query] input", "天河");
  await page.click("[data-test=query-go]");
  await page.click(`[data-test=apply-${tianhe}]:has-text('申请转入')`);
  await page.click(".van-dialog__confirm");
  await page.waitForSelector("[data-test^=application-][data-status=pending]:has-text('会籍转移')");
  const application = Number((await page.getAttribute("[data-test^=application-][data-status=pending]", "data-test")).split("-")[1]);
  await page.click(".van-nav-bar__left");
  await page.waitForSelector(`[data-test=application-${application}][data-status=pending]`);
  await mark(page);
  await api(cluster, 1, adminToken, "POST", `/applications/${application}/approve`);
  await page.waitForSelector("[data-test=card-union]:has-text('天河区总工会')");
  await page.waitForSelector(`[data-test=application-${application}][data-status=approved]`);
  await stillMarked(page);
  await snap(page, "h5-transferred");
});

test("a union's name on the map is text, never markup", async () => {
  const hostile = "<img src=x onerror=window.pwned=1><b>粗体</b>工会";
  cluster.sqlValue(
    `INSERT INTO unions (id, parent_id, name, path, lat, lng) SELECT n.id, ${root}, '${hostile}', ARRAY[${root}, n.id], 23.1296, 113.2651
     FROM (SELECT nextval('unions_id_seq') AS id) n`,
  );
  const page = await smsLogin(
    await phone(chrome, "small", { geolocation: { latitude: 23.13, longitude: 113.27 }, permissions: ["geolocation"] }),
    cluster,
    cluster.http[0],
    "13700000099",
  );
  await page.click("[data-test=find-union]");
  await page.click("[data-test=locate]");
  await page.waitForSelector(`text=${hostile}`);
  await page.waitForSelector("[data-test=map] path.leaflet-interactive >> nth=1");
  // Every marker's tooltip, as a finger or a mouse over it opens it.
  const tips = await page.evaluate(() => {
    for (const marker of document.querySelectorAll("[data-test=map] path.leaflet-interactive")) {
      marker.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    }
    return [...document.querySelectorAll(".leaflet-tooltip")].map((t) => ({ text: t.textContent, markup: t.querySelectorAll("img, b").length }));
  });
  assert.ok(tips.some((t) => t.text === hostile), JSON.stringify(tips));
  assert.ok(tips.every((t) => t.markup === 0), JSON.stringify(tips));
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});
