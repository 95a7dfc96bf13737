// An official-account article imported from a fake WeChat (HTTPS on loopback, its own
// certificate handed to the nodes) and published to the subtree: it reaches a child's feed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { browser, loginWithPassword, shot, startCluster } from "./browser.mjs";

const ADMIN = "13800000000";
const PASSWORD = "console-admin-pass";
let cluster;
let chrome;
let wechat;
let root;

/** A page shaped like an official-account article. */
function articlePage(title, account, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><meta property="og:title" content="${title}">
<meta property="og:image" content="https://mmbiz.qpic.cn/cover.jpg"><meta name="description" content="${title}的摘要">
<title>${title}</title></head><body><div id="js_article"><h1 class="rich_media_title" id="activity-name">${title}</h1>
<div class="rich_media_meta_list"><a id="js_name">${account}</a></div>
<div class="rich_media_content" id="js_content" style="visibility: hidden;">${body}</div></div>
<script>var ct = "1763940000"; var nickname = "${account}";</script></body></html>`;
}

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "fake-wechat-"));
  const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "subjectAltName=IP:127.0.0.1",
    "-addext", "keyUsage=digitalSignature", "-addext", "extendedKeyUsage=serverAuth",
  ], { stdio: "ignore" });
  wechat = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(articlePage("劳模工匠风采展", "广东工会", "<p>他们是新时代的奋斗者。</p>"));
  });
  await new Promise((r) => wechat.listen(0, "127.0.0.1", r));
  const host = `127.0.0.1:${wechat.address().port}`;
  cluster = await startCluster({ nodes: 1, env: { GONGHUI_WECHAT_ALLOWED_HOSTS: host, GONGHUI_WECHAT_CA_FILE: cert } });
  root = cluster.bootstrap(ADMIN, PASSWORD);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await cluster?.stop();
  wechat?.close();
});

test("an article imported by link and published to the subtree reaches a child union's feed", async () => {
  const child = Number(
    cluster.sqlValue(
      `INSERT INTO unions (id, parent_id, name, path) SELECT n.id, ${root}, '越秀区总工会', ARRAY[${root}, n.id]
       FROM (SELECT nextval('unions_id_seq') AS id) n RETURNING id`,
    ),
  );
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=资讯发布");
  await page.fill("input[name=link]", `https://127.0.0.1:${wechat.address().port}/s/model-workers`);
  await page.click("[data-test=link-scope]");
  await page.click(".el-select-dropdown__item:has-text('本工会及下级工会')");
  await page.click("[data-test=import-link]");
  await page.waitForSelector("[data-test=feed] tbody tr:has-text('劳模工匠风采展')");
  await shot(page, "news");

  const admin = await cluster.login(ADMIN, "console");
  const feed = await fetch(`${cluster.http[0]}/api/v1/unions/${child}/news`, {
    headers: { authorization: `Bearer ${admin.token}` },
  }).then((r) => r.json());
  assert.deepEqual(
    feed.items.map((n) => [n.title, n.account_name]),
    [["劳模工匠风采展", "广东工会"]],
  );
});
