import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ADMIN, PASSWORD, boot, creditCode, idNumber, loginWithPassword, shot, stop, api as call } from "./browser.mjs";

let cluster;
let chrome;
let root;

before(async () => ({ cluster, root, chrome } = await boot({ nodes: 2 })));
after(() => stop({ cluster, chrome }));

const api = (token, method, url, body) => call(cluster, 0, token, method, url, body);

test("a registration appears live in the parent's requests and is approved; a bad tree file writes nothing", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[1], ADMIN, PASSWORD);
  await page.click("text=工会组织");
  await page.click("[data-test=tree] >> text=广东省总工会");
  await page.waitForSelector("[data-test=details]");

  const user = await cluster.login("13600000051", "app");
  await api(user.token, "POST", "/me/verification", { name: "孙七", id_number: idNumber(951) });
  const request = await api(user.token, "POST", "/unions/registrations", {
    name: "广州地铁工会",
    credit_code: creditCode(1),
    parent_id: root,
    address: "广州市海珠区新港东路1238号",
    lat: 23.1,
    lng: 113.3,
    contact_name: "孙七",
    contact_phone: "13600000051",
  });
  await page.waitForSelector(`[data-test=approve-request-${request.id}]`);
  await page.click(`[data-test=approve-request-${request.id}]`);
  await page.waitForSelector(`[data-test=request-${request.id}][data-status=approved]`);
  // The new union is in the tree below (opened lazily), its approval in its audit log.
  await page.click("[data-test=tree] >> text=广州地铁工会");
  await page.waitForSelector("[data-test=audit] tbody tr:has-text('org_request.approve')");
  await shot(page, "org");

  const file = path.join(tmpdir(), `tree-${process.pid}.csv`);
  writeFileSync(file, `工会名称,统一社会信用代码,上级工会信用代码\n甲工会,${creditCode(2)},${creditCode(3)}\n`);
  await page.setInputFiles("[data-test=tree-file]", file);
  await page.waitForSelector("[data-test=tree-summary]");
  assert.match(await page.textContent("[data-test=tree-summary]"), /有 1 行错误，未写入任何数据/);
  assert.equal(cluster.sqlValue(`SELECT count(*) FROM unions WHERE credit_code = '${creditCode(2)}'`), "0");
});

test("an admin without a right is refused with a clear message", async () => {
  const child = Number(
    cluster.sqlValue(
      `INSERT INTO unions (id, parent_id, name, path) SELECT n.id, ${root}, '天河区总工会', ARRAY[${root}, n.id]
       FROM (SELECT nextval('unions_id_seq') AS id) n RETURNING id`,
    ),
  );
  const reviewer = Number(cluster.sqlValue("INSERT INTO users (phone, password_hash) VALUES ('13800000052', NULL) RETURNING id"));
  const admin = await cluster.login(ADMIN, "console");
  await api(admin.token, "PUT", `/unions/${child}/admins/${reviewer}`, { permissions: ["members.review"] });
  const page = await (await chrome.newContext()).newPage();
  await page.goto(`${cluster.http[0]}/console/login`);
  await page.click("text=验证码登录");
  await page.fill("input[name=phone]", "13800000052");
  await page.click("[data-test=send-code]");
  await page.waitForSelector("[data-test=send-code]:has-text('秒后重发')");
  await page.fill("input[name=code]", cluster.smsCode("13800000052"));
  await page.click("[data-test=login]");
  await page.waitForSelector("[data-test=connection][data-state=connected]");
  await page.click("text=工会组织");
  await page.click("[data-test=tree] >> text=天河区总工会");
  await page.click("text=导出工会树");
  await page.waitForSelector(".el-message--error");
  assert.match(await page.textContent(".el-message--error"), /没有执行此操作的权限.*org\.manage/);
  await shot(page, "org-refused");
});

test("a new committee term is submitted for a union, approved by its parent, and shown with its seats", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=工会组织");
  await page.click("[data-test=tree] >> text=广东省总工会");
  await page.click("[data-test=tree] >> text=广州地铁工会");
  await page.waitForSelector("[data-test=details]:has-text('广州地铁工会')");
  // Its map: itself, drawn as a vector marker on the plain grid (no tiles configured).
  await page.waitForSelector("[data-test=map-count][data-count='1']");
  assert.equal(await page.$$eval("[data-test=map] path.leaflet-interactive", (p) => p.length), 1);
  await page.click("[data-test=new-term]");
  await page.fill("input[placeholder='开始日期']", "2026-01-01");
  await page.fill("input[placeholder='结束日期']", "2030-12-31");
  await page.keyboard.press("Enter");
  await page.fill("textarea[name=seats]", "孙七 主席\n周八 副主席\n吴九 委员");
  await page.click("[data-test=submit-term]");
  await page.waitForSelector(".el-message--success");

  // The parent reviews it.
  const id = cluster.sqlValue("SELECT id FROM org_requests WHERE kind = 'committee'");
  await page.click("[data-test=tree] >> text=广东省总工会");
  await page.click(`[data-test=approve-request-${id}]`);
  await page.waitForSelector(`[data-test=request-${id}][data-status=approved]`);
  await page.click("[data-test=tree] >> text=广州地铁工会");
  await page.waitForSelector("[data-test=committee-current]:has-text('孙七（主席）')");
  assert.match(await page.textContent("[data-test=committee-current]"), /2026-01-01 至 2030-12-31.*周八（副主席）.*吴九（委员）/);
  await shot(page, "org-committee");
});

test("a modification submitted from the console is approved by the parent and the details change", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=工会组织");
  await page.click("[data-test=tree] >> text=广东省总工会");
  await page.click("[data-test=tree] >> text=广州地铁工会");
  await page.waitForSelector("[data-test=details]:has-text('广州地铁工会')");
  await page.click("[data-test=modify-union]");
  await page.fill("input[name=address]", "广州市天河区体育西路2号");
  await page.click("[data-test=submit-union]");
  await page.waitForSelector(".el-message--success");
  const id = cluster.sqlValue("SELECT id FROM org_requests WHERE kind = 'modify'");
  await page.click("[data-test=tree] >> text=广东省总工会");
  await page.click(`[data-test=approve-request-${id}]`);
  await page.waitForSelector(`[data-test=request-${id}][data-status=approved]`);
  await page.click("[data-test=tree] >> text=广州地铁工会");
  await page.waitForSelector("[data-test=details]:has-text('广州市天河区体育西路2号')");
});

test("a union's name on the map is text, never markup", async () => {
  const hostile = "<img src=x onerror=window.pwned=1><b>粗体</b>工会";
  cluster.sqlValue(
    `INSERT INTO unions (id, parent_id, name, path, lat, lng) SELECT n.id, ${root}, '${hostile}', ARRAY[${root}, n.id], 23.13, 113.27
     FROM (SELECT nextval('unions_id_seq') AS id) n`,
  );
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=工会组织");
  await page.click("[data-test=tree] >> text=广东省总工会");
  await page.click(`[data-test=tree] >> text=${hostile}`);
  await page.waitForSelector("[data-test=map] path.leaflet-interactive");
  const tips = await page.evaluate(() => {
    for (const marker of document.querySelectorAll("[data-test=map] path.leaflet-interactive")) {
      marker.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    }
    return [...document.querySelectorAll(".leaflet-tooltip")].map((t) => ({ text: t.textContent, markup: t.querySelectorAll("img, b").length }));
  });
  assert.ok(tips.some((t) => t.text.startsWith(hostile)), JSON.stringify(tips));
  assert.ok(tips.every((t) => t.markup === 0), JSON.stringify(tips));
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});
