import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, PASSWORD, api as call, boot, loginWithCode, loginWithPassword, shot, stop } from "./browser.mjs";

let cluster;
let chrome;
let root;

before(async () => ({ cluster, root, chrome } = await boot({ nodes: 2 })));
after(() => stop({ cluster, chrome }));

const api = (node, token, method, url, body) => call(cluster, node, token, method, url, body);

test("two admins on two nodes see a join live; one approves and it changes on the other's screen", async () => {
  // A second admin of the root union, who will log in by SMS code (no code sent yet: a
  // phone gets one a minute).
  const second = Number(cluster.sqlValue("INSERT INTO users (phone) VALUES ('13800000001') RETURNING id"));
  const rootLogin = await cluster.login(ADMIN, "console");
  await api(0, rootLogin.token, "PUT", `/unions/${root}/admins/${second}`, { permissions: ["members.review"] });

  const a = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  const b = await loginWithCode(await chrome.newContext(), cluster, cluster.http[1], "13800000001");
  await b.waitForSelector("[data-test=connection][data-state=connected]");

  // A member applies over HTTP: both queues show it without a reload.
  const member = await cluster.login("13600000001", "app");
  await api(0, member.token, "POST", "/me/verification", { name: "王五", id_number: "44010119900307000X" });
  const application = await api(0, member.token, "POST", `/unions/${root}/applications`, { kind: "join", note: "请批准" });
  for (const page of [a, b]) {
    await page.waitForSelector(`[data-test=applicant-${application.id}]`);
    assert.match(await page.textContent(`[data-test=applicant-${application.id}]`), /王五/);
    await page.waitForSelector("[data-test=queue-count]:has-text('1')");
  }
  await shot(a, "queue");

  // Admin A approves; admin B's screen shows it decided, by whom, and the count drops.
  await a.click(`[data-test=approve-${application.id}]`);
  await b.waitForSelector(`[data-test=decided-${application.id}][data-status=approved]`);
  assert.match(await b.textContent(`[data-test=decided-${application.id}]`), /管理员 #1 通过/);
  await b.waitForSelector("[data-test=queue-count]", { state: "detached" });
  await shot(b, "queue-decided");
  // And the roster (admin A manages members; B only reviews) has the new member.
  await a.click("text=会员管理");
  await a.waitForSelector("[data-test=roster] tbody tr:has-text('王五')");
});

test("a member without rights is refused at login with a clear message", async () => {
  const page = await loginWithCode(await chrome.newContext(), cluster, cluster.http[0], "13600000002");
  await page.waitForSelector("[data-test=login-error]");
  assert.match(await page.textContent("[data-test=login-error]"), /不是任何工会的管理员/);
  await shot(page, "login-refused");
});

test("when its node is killed the console says so, moves to the other node and misses nothing", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[1], ADMIN, PASSWORD);
  cluster.kill(1);
  await page.waitForSelector("[data-test=connection][data-state=reconnecting]");
  await shot(page, "reconnecting");
  // Applied while the console had no connection: it must show once it is back.
  const member = await cluster.login("13600000003", "app");
  await api(0, member.token, "POST", "/me/verification", { name: "赵六", id_number: "440101199003070034" });
  const application = await api(0, member.token, "POST", `/unions/${root}/applications`, { kind: "join" });
  await page.waitForSelector("[data-test=connection][data-state=connected]", { timeout: 30_000 });
  await page.waitForSelector(`[data-test=applicant-${application.id}]`);
  assert.match(await page.textContent(`[data-test=applicant-${application.id}]`), /赵六/);
  await cluster.restart(1);
});

test("the first visit stays small: gzipped JavaScript under 300 KB for login and the queue", async () => {
  const page = await (await chrome.newContext()).newPage();
  const sizes = [];
  page.on("requestfinished", async (request) => {
    if (request.resourceType() === "script") sizes.push((await request.sizes()).responseBodySize);
  });
  await page.goto(`${cluster.http[0]}/console/`);
  await page.fill("input[name=phone]", ADMIN);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("[data-test=login]");
  await page.waitForSelector("[data-test=connection][data-state=connected]");
  await page.waitForLoadState("networkidle");
  const total = sizes.reduce((a, b) => a + b, 0);
  console.log(`first visit (login, then the queue): ${sizes.length} scripts, ${(total / 1024).toFixed(1)} KiB gzipped`);
  assert.ok(sizes.every((s) => s > 0) && total < 300 * 1024, `${sizes} = ${total} bytes`);
});
