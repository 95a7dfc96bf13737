import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, api, boot, idNumber, member, openAs, snap, stop } from "./phone.mjs";

let cluster;
let chrome;
let root;
let adminToken;
let alice;

before(async () => {
  ({ cluster, root, chrome } = await boot({ nodes: 2 }));
  adminToken = (await cluster.login(ADMIN, "console")).token;
  alice = await member(cluster, adminToken, root, "13700000201", "林小梅", idNumber(301));
});
after(() => stop({ cluster, chrome }));

/** The member's unread count as the server has it. */
const unread = async () => (await api(cluster, 0, alice.token, "GET", "/me/notifications?limit=1")).unread;
async function badge(page, count) {
  try {
    await page.waitForSelector(`[data-test=unread][data-count='${count}']`, { state: "attached", timeout: 10_000 });
  } catch {
    assert.fail(`the badge shows ${await page.getAttribute("[data-test=unread]", "data-count")}, not ${count}`);
  }
}

test("a message read on one phone drops the badge on the other, live", async () => {
  const start = await unread();
  const a = await openAs(chrome, cluster, 0, alice.token, "/inbox");
  const b = await openAs(chrome, cluster, 1, alice.token, "/", "large");
  const note = await api(cluster, 0, adminToken, "POST", `/unions/${root}/announcements`, { title: "端午慰问品领取", body: "请于本周五前到工会办公室领取。" });
  await badge(a, start + 1);
  await badge(b, start + 1);
  await a.waitForSelector(`[data-test=message-${note.id}][data-read=false]`);
  await snap(a, "h5-inbox");
  await a.click(`[data-test=message-${note.id}]`);
  await a.waitForSelector(`[data-test=message-${note.id}][data-read=true]`);
  await badge(b, start);
  await badge(a, start);
});

test("offline is said as it is, and what happened meanwhile arrives on reconnecting; a reopened page resumes from its stored seqs", async () => {
  const context = (await openAs(chrome, cluster, 0, alice.token, "/")).context();
  const page = context.pages()[0];
  const before = await unread();
  await badge(page, before);
  await context.setOffline(true);
  await page.waitForSelector("[data-test=connection][data-state=offline]", { state: "attached" });
  assert.match(await page.textContent("[data-test=connection]"), /网络已断开/);
  await snap(page, "h5-offline");
  const note = await api(cluster, 1, adminToken, "POST", `/unions/${root}/announcements`, { title: "停电通知", body: "周六 9:00–12:00 停电。" });
  await context.setOffline(false);
  await page.waitForSelector("[data-test=connection][data-state=connected]", { state: "attached" });
  await badge(page, before + 1);

  // Reopened (WeChat drops pages it put to sleep): what the topics said shows at once,
  // and they are resumed from their stored seqs (`since`), not started over.
  const subscribes = [];
  page.on("websocket", (ws) => ws.on("framesent", (f) => typeof f.payload === "string" && f.payload.includes('"subscribe"') && subscribes.push(JSON.parse(f.payload))));
  await api(cluster, 1, adminToken, "POST", `/unions/${root}/announcements`, { title: "补充通知", body: "停电改为 10:00 开始。" });
  await badge(page, before + 2);
  await page.reload();
  await badge(page, before + 2);
  await page.waitForSelector("[data-test=connection][data-state=connected]", { state: "attached" });
  await page.click("[data-test=tab-inbox]");
  await page.waitForSelector(`[data-test=message-${note.id}]`);
  const member = subscribes.find((s) => s.topic === `member:${alice.user_id}`);
  const union = subscribes.find((s) => s.topic === `union:${root}`);
  assert.ok(member && typeof member.since === "number", JSON.stringify(subscribes));
  assert.ok(union && typeof union.since === "number", JSON.stringify(subscribes));
});
