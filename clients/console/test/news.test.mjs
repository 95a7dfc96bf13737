// An official-account article imported from a fake WeChat (HTTPS on loopback, its own
// certificate handed to the nodes) and published to the subtree: it reaches a child's feed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ADMIN, PASSWORD, boot, loginWithPassword, shot, stop } from "./browser.mjs";

let cluster;
let chrome;
let wechat;
let root;
const api = { unauthorized: false };

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
  // Pages at /s/…, and the slice of WeChat's API a bound account uses.
  wechat = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const url = new URL(req.url, "https://127.0.0.1");
    const json = (body) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/cgi-bin/token") {
      return url.searchParams.get("secret") === "bad"
        ? json({ errcode: 40125, errmsg: "invalid appsecret" })
        : json({ access_token: "tok", expires_in: 7200 });
    }
    if (url.pathname === "/cgi-bin/freepublish/batchget") {
      if (api.unauthorized) return json({ errcode: 48001, errmsg: "api unauthorized" });
      const news = [{ title: "职工书屋开放", author: "小编", digest: "开放时间", content: "<p>周一至周五</p>",
        thumb_url: "https://mmbiz.qpic.cn/t.jpg", url: "https://mp.weixin.qq.com/s/reading-room", is_deleted: false }];
      return json({ total_count: 1, item_count: 1, item: [{ article_id: "a1", content: { news_item: news }, update_time: 1763940000 }] });
    }
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(articlePage("劳模工匠风采展", "广东工会", "<p>他们是新时代的奋斗者。</p>"));
  });
  await new Promise((r) => wechat.listen(0, "127.0.0.1", r));
  const host = `127.0.0.1:${wechat.address().port}`;
  ({ cluster, root, chrome } = await boot({
    nodes: 1,
    env: { GONGHUI_WECHAT_ALLOWED_HOSTS: host, GONGHUI_WECHAT_CA_FILE: cert, GONGHUI_WECHAT_API: `https://${host}` },
  }));
});

after(async () => {
  await stop({ cluster, chrome });
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

test("an official account bound, pulled now, and shown broken live when WeChat withdraws it", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=资讯发布");
  await page.fill("input[name=app-id]", "wx0123456789abcdef");
  await page.fill("input[name=app-secret]", "good-secret");
  await page.click("[data-test=bind]");
  await page.waitForSelector("[data-test=account-status]:has-text('正常')");
  await page.click("text=立即拉取");
  await page.waitForSelector(".el-message--success:has-text('拉取到 1 篇新文章')");
  await page.waitForSelector("[data-test=feed] tbody tr:has-text('职工书屋开放')");

  api.unauthorized = true;
  await page.click("text=立即拉取");
  await page.waitForSelector("[data-test=account-status]:has-text('已失效')");
  await shot(page, "news-account");
});

test("an article written in the editor is saved as a draft and published with its formatting", async () => {
  const page = await loginWithPassword(await chrome.newContext(), cluster.http[0], ADMIN, PASSWORD);
  await page.click("text=资讯发布");
  await page.fill("input[name=article-title]", "工会会员服务月");
  await page.click("[data-test=editor] .ProseMirror");
  await page.keyboard.type("活动时间：");
  await page.click("[data-test=editor-bold]");
  // Typed only once the mark is on (the button keeps the editor's focus and selection).
  await page.waitForSelector("[data-test=editor-bold].el-button--primary");
  await page.keyboard.type("十二月全月");
  await page.click("[data-test=save-draft]");
  const publish = await page.waitForSelector("[data-test^=publish-]");
  const id = Number((await publish.getAttribute("data-test")).split("-")[1]);
  assert.match(cluster.sqlValue(`SELECT body_html FROM news WHERE id = ${id}`), /<p>活动时间：<strong>十二月全月<\/strong><\/p>/);
  await publish.click();
  await page.waitForSelector("[data-test=feed] tbody tr:has-text('工会会员服务月')");
  await shot(page, "news-editor");
});
