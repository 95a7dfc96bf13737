//! The WeChat adapter against a fake WeChat on loopback: a bound official account pulled
//! for news (tokens, rate limits, refusals), and the mini-program's login and codes.

use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::{pg_base, Cluster};
use crate::wechat_fake::{self, FakeWeChat, MINI_CODE};

/// `nodes` nodes against the fake; `poll_secs` 0 polls only when asked.
async fn cluster_polling(fake: &FakeWeChat, poll_secs: u64, nodes: usize) -> Cluster {
    let (host, ca, base) = (fake.host.clone(), fake.ca_file.clone(), fake.base.clone());
    Cluster::start_with(nodes, &pg_base(), move |s| {
        s.wechat_allowed_hosts = Some(host.clone());
        s.wechat_ca_file = Some(ca.clone());
        s.wechat_api = Some(base.clone());
        s.wechat_poll_secs = Some(poll_secs);
        s.wechat_miniprogram_appid = Some("wx-mini".into());
        s.wechat_miniprogram_secret = Some("mini-secret".into());
    })
    .await
}

async fn cluster_with(fake: &FakeWeChat) -> Cluster {
    cluster_polling(fake, 0, 1).await
}

fn publish(fake: &FakeWeChat, id: &str, titles: &[&str]) {
    let articles = titles
        .iter()
        .map(|t| {
            (
                t.to_string(),
                format!("https://mp.weixin.qq.com/s/{id}-{t}"),
            )
        })
        .collect();
    fake.api
        .lock()
        .unwrap()
        .published
        .insert(0, (id.to_owned(), articles));
}

/// Pulls the bound account now; returns the answer's JSON.
async fn poll_now(cluster: &Cluster, token: &str, poll: &str) -> Value {
    cluster
        .post(0, token, poll, &json!({}))
        .await
        .json()
        .await
        .unwrap()
}

async fn bind(cluster: &Cluster, token: &str, union: i64, secret: &str) -> reqwest::Response {
    cluster
        .http
        .put(cluster.url(0, &format!("/unions/{union}/wechat/account")))
        .bearer_auth(token)
        .json(&json!({"app_id": "wx-account", "secret": secret}))
        .send()
        .await
        .unwrap()
}

#[actix_rt::test]
async fn a_bound_account_imports_its_list_then_only_what_is_new_refreshing_an_expired_token_once() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (member, _) = cluster
        .verified_user(0, "13800001701", "miniprogram", 1701)
        .await;
    cluster.admit(&root, &member, union).await;
    let topic = format!("union:{union}");
    let mut mini = cluster.ws(0, Codec::Json).await;
    mini.watch(&member, ClientKind::Miniprogram, &[&topic])
        .await;
    for n in 0..22 {
        publish(&fake, &format!("m{n}"), &[&format!("第{n}期")]);
    }
    publish(&fake, "two", &["头条", "次条"]);

    assert_eq!(
        bind(&cluster, &root, union, "bad").await.status(),
        422,
        "WeChat refuses the secret"
    );
    let bound = bind(&cluster, &root, union, "good").await;
    assert_eq!(bound.status(), 200, "{}", bound.text().await.unwrap());
    let poll = format!("/unions/{union}/wechat/account/poll");
    let first: Value = poll_now(&cluster, &root, &poll).await;
    assert_eq!(
        first["imported"], 24,
        "two pages, one message of two articles"
    );
    for _ in 0..24 {
        mini.event_of(&topic, kind::NEWS_PUBLISHED).await;
    }
    let nothing: Value = poll_now(&cluster, &root, &poll).await;
    assert_eq!(nothing["imported"], 0);
    let wrong = bind(&cluster, &root, union, "bad").await;
    assert_eq!(
        wrong.status(),
        422,
        "a cached token does not vouch for a wrong secret"
    );

    publish(&fake, "new", &["新文章"]);
    let issued = {
        let mut api = fake.api.lock().unwrap();
        let current = format!("tok-{}", api.tokens_issued);
        api.revoked.push(current);
        api.tokens_issued
    };
    let second: Value = poll_now(&cluster, &root, &poll).await;
    assert_eq!(second["imported"], 1, "{second}");
    assert_eq!(
        fake.api.lock().unwrap().tokens_issued,
        issued + 1,
        "refreshed once"
    );
    let news = mini.event_of(&topic, kind::NEWS_PUBLISHED).await;
    assert_eq!(news.data["news"]["title"], "新文章");
    let feed: Value = cluster
        .get(0, &member, &format!("/unions/{union}/news?limit=100"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(feed["items"].as_array().unwrap().len(), 25);
    let article: Value = cluster
        .get(0, &member, &format!("/news/{}", feed["items"][0]["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert!(!article["body_html"].as_str().unwrap().contains("script"));
}

#[actix_rt::test]
async fn a_rate_limit_backs_off_and_a_refused_binding_is_reported_live() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let mut console = cluster.ws(0, Codec::Json).await;
    let queue = format!("union:{union}:admin");
    console.watch(&root, ClientKind::Console, &[&queue]).await;
    assert_eq!(bind(&cluster, &root, union, "good").await.status(), 200);
    let poll = format!("/unions/{union}/wechat/account/poll");

    fake.api.lock().unwrap().rate_limited = true;
    let limited = cluster.post(0, &root, &poll, &json!({})).await;
    assert_eq!(limited.status(), 429);
    let told = console.event_of(&queue, kind::WECHAT_POLL_FAILED).await;
    assert!(told.data["reason"].as_str().unwrap().contains("45009"));
    let account: Value = cluster
        .get(0, &root, &format!("/unions/{union}/wechat/account"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["status"], "active");
    let retry_at =
        chrono::DateTime::parse_from_rfc3339(account["next_poll_at"].as_str().unwrap()).unwrap();
    assert!(
        retry_at > chrono::Utc::now() + chrono::Duration::seconds(50),
        "backed off: {retry_at}"
    );

    {
        let mut api = fake.api.lock().unwrap();
        api.rate_limited = false;
        api.unauthorized = true;
    }
    let refused = cluster.post(0, &root, &poll, &json!({})).await;
    assert_eq!(refused.status(), 409);
    let broken = console.event_of(&queue, kind::WECHAT_BINDING_BROKEN).await;
    assert!(broken.data["reason"].as_str().unwrap().contains("48001"));
    let account: Value = cluster
        .get(0, &root, &format!("/unions/{union}/wechat/account"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["status"], "broken");
}

#[actix_rt::test]
async fn a_miniprogram_user_logs_in_with_a_code_and_activities_get_the_miniprogram_code() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_polling(&fake, 0, 2).await;
    let first: Value = cluster
        .http
        .post(cluster.url(0, "/auth/wechat/login"))
        .json(&json!({"code": "good-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["needs_phone"], true, "{first}");
    let ticket = first["ticket"].as_str().unwrap().to_owned();
    let sent = cluster
        .post(0, "", "/auth/sms-codes", &json!({"phone": "13800001801"}))
        .await;
    assert_eq!(sent.status(), 202);
    let code = cluster.sms.code_for("13800001801");
    let forged = json!({"ticket": ticket.replace("oid-1", "oid-2"), "phone": "13800001801", "sms_code": code});
    assert_eq!(
        cluster
            .post(0, "", "/auth/wechat/login", &forged)
            .await
            .status(),
        401
    );
    let linked: Value = cluster
        .post(
            0,
            "",
            "/auth/wechat/login",
            &json!({"ticket": ticket, "phone": "13800001801", "sms_code": code}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(linked["token"].is_string(), "{linked}");
    let again: Value = cluster
        .post(0, "", "/auth/wechat/login", &json!({"code": "good-1"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["needs_phone"], false);
    assert_eq!(again["user"]["id"], linked["user"]["id"]);
    let bad = cluster
        .post(0, "", "/auth/wechat/login", &json!({"code": "nonsense"}))
        .await;
    assert_eq!(bad.status(), 401);

    let root = cluster.root_admin_token().await;
    let form = json!({"kind": "vote", "title": "投票", "starts_at": chrono::Utc::now().to_rfc3339(),
        "ends_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "config": {"options": [{"id": "a", "text": "甲"}, {"id": "b", "text": "乙"}], "max_choices": 1}});
    let create = || async {
        let path = format!("/unions/{}/activities", cluster.root_union);
        let created: Value = cluster
            .post(0, &root, &path, &form)
            .await
            .json()
            .await
            .unwrap();
        created["id"].as_i64().unwrap()
    };
    let path = format!("/activities/{}/code", create().await);
    let asks = (0..6).map(|n| cluster.get(n % 2, &root, &path));
    for png in futures_util::future::join_all(asks).await {
        assert_eq!(png.headers()["content-type"], "image/png");
        assert_eq!(png.headers()["x-code-kind"], "miniprogram");
        assert_eq!(png.bytes().await.unwrap().as_ref(), MINI_CODE);
    }
    assert_eq!(
        fake.api.lock().unwrap().codes_made,
        1,
        "made once for both nodes, then kept"
    );
    let kept = cluster
        .count("SELECT count(*) FROM miniprogram_codes", &[])
        .await;
    assert_eq!(kept, 1);

    // WeChat refusing a code (a page not yet released, say) is no outage: the QR code.
    fake.api.lock().unwrap().refuse_codes = true;
    let qr = cluster
        .get(1, &root, &format!("/activities/{}/code", create().await))
        .await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["x-code-kind"], "qr");
    assert!(qr.headers()["x-code-fallback"]
        .to_str()
        .unwrap()
        .contains("41030"));
    assert_ne!(qr.bytes().await.unwrap().as_ref(), MINI_CODE);
}

#[actix_rt::test]
async fn a_bound_account_is_polled_on_schedule() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_polling(&fake, 1, 1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let topic = format!("union:{union}");
    let mut console = cluster.ws(0, Codec::Json).await;
    console.watch(&root, ClientKind::Console, &[&topic]).await;
    publish(&fake, "sched", &["定时拉取"]);
    assert_eq!(bind(&cluster, &root, union, "good").await.status(), 200);
    let news = console.event_of(&topic, kind::NEWS_PUBLISHED).await;
    assert_eq!(news.data["news"]["title"], "定时拉取");
}

#[actix_rt::test]
async fn articles_an_account_deleted_are_never_imported_and_withdrawn_if_they_were() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let mut console = cluster.ws(0, Codec::Json).await;
    console
        .watch(&root, ClientKind::Console, &[format!("union:{union}")])
        .await;
    publish(&fake, "old", &["旧文"]);
    let bound = bind(&cluster, &root, union, "good").await;
    assert_eq!(bound.status(), 200);
    let poll = format!("/unions/{union}/wechat/account/poll");
    let first: Value = poll_now(&cluster, &root, &poll).await;
    assert_eq!(first["imported"], 1);
    let imported = console
        .event_of(&format!("union:{union}"), kind::NEWS_PUBLISHED)
        .await;

    // The account deletes the old article and publishes two, deleting one of them too.
    publish(&fake, "new", &["新文", "删文"]);
    {
        let mut api = fake.api.lock().unwrap();
        api.deleted
            .push("https://mp.weixin.qq.com/s/old-旧文".into());
        api.deleted
            .push("https://mp.weixin.qq.com/s/new-删文".into());
    }
    let second: Value = poll_now(&cluster, &root, &poll).await;
    assert_eq!(second["imported"], 1, "{second}");
    let withdrawn = console
        .event_of(&format!("union:{union}"), kind::NEWS_UNPUBLISHED)
        .await;
    assert_eq!(withdrawn.data["news_id"], imported.data["news"]["id"]);
    let titles: Vec<String> = cluster
        .db
        .query("SELECT title FROM news WHERE status = 'published'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(titles, ["新文"]);
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM news WHERE title = '删文'", &[])
            .await,
        0
    );
}

#[actix_rt::test]
async fn a_pulled_article_is_checked_as_a_fetched_one_is() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    publish(&fake, "bad", &["脚本封面", "脚本链接"]);
    let long = "长".repeat(5_000);
    {
        let mut api = fake.api.lock().unwrap();
        api.overrides.push((
            "https://mp.weixin.qq.com/s/bad-脚本封面".into(),
            json!({"thumb_url": "javascript:alert(1)", "author": long, "digest": long}),
        ));
        api.overrides.push((
            "https://mp.weixin.qq.com/s/bad-脚本链接".into(),
            json!({"url": "javascript:alert(document.cookie)"}),
        ));
    }
    let bound = bind(&cluster, &root, union, "good").await;
    assert_eq!(bound.status(), 200);
    let pulled = poll_now(
        &cluster,
        &root,
        &format!("/unions/{union}/wechat/account/poll"),
    )
    .await;
    assert_eq!(
        pulled["imported"], 1,
        "the article whose link is a script is left out: {pulled}"
    );
    let row = cluster
        .db
        .query_one(
            "SELECT title, cover_url, author, digest, source_url FROM news WHERE source = 'account'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "脚本封面");
    assert_eq!(
        row.get::<_, Option<String>>(1),
        None,
        "a script cover is dropped"
    );
    assert_eq!(
        row.get::<_, Option<String>>(2).unwrap().chars().count(),
        100
    );
    assert_eq!(
        row.get::<_, Option<String>>(3).unwrap().chars().count(),
        200
    );
    assert!(row
        .get::<_, String>(4)
        .starts_with("https://mp.weixin.qq.com/s/"));
}
