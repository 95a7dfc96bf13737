//! News: authored and imported by link through the WeChat adapter (against a fake WeChat
//! on loopback), delivered live to every union in the audience.

use std::time::{Duration, Instant};

use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::{pg_base, Cluster};
use crate::wechat_fake::{self, FakeWeChat};

async fn cluster_with(fake: &FakeWeChat, nodes: usize) -> Cluster {
    let (host, ca) = (fake.host.clone(), fake.ca_file.clone());
    Cluster::start_with(nodes, &pg_base(), move |s| {
        s.wechat_allowed_hosts = Some(host.clone());
        s.wechat_ca_file = Some(ca.clone());
        s.wechat_timeout_secs = Some(1.5);
    })
    .await
}

#[actix_rt::test]
async fn articles_imported_by_link_keep_their_fields_and_reach_the_app_and_the_miniprogram() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake, 2).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (app_token, _) = cluster.verified_user(0, "13800001501", "app", 1501).await;
    cluster.admit(&root, &app_token, union).await;
    let mini_token = cluster.second_device("13800001501", 1, "miniprogram").await;
    let topic = format!("union:{union}");
    let mut app = cluster.ws(0, Codec::MsgPack).await;
    app.watch(&app_token, ClientKind::App, &[&topic]).await;
    let mut mini = cluster.ws(1, Codec::Json).await;
    mini.watch(&mini_token, ClientKind::Miniprogram, &[&topic])
        .await;

    let shapes = [
        ("normal", "工会法知识问答", Some("李记者"), "广东工会"),
        ("noauthor", "职工书屋开放", None, "广州工会"),
        ("imageonly", "图说劳模", Some("摄影部"), "深圳工会"),
    ];
    for (path, title, author, account) in shapes {
        let url = format!("{}/s/{path}", fake.base);
        let r = cluster
            .post(
                0,
                &root,
                &format!("/unions/{union}/news/imports"),
                &json!({"url": url}),
            )
            .await;
        assert_eq!(r.status(), 201, "{path}: {}", r.text().await.unwrap());
        let news: Value = r.json().await.unwrap();
        assert_eq!(news["title"], title);
        assert_eq!(news["author"], json!(author));
        assert_eq!(news["account_name"], account);
        assert_eq!(news["cover_url"], "https://mmbiz.qpic.cn/cover.jpg");
        assert_eq!(news["digest"], format!("{title}的摘要"));
        assert_eq!(news["original_published_at"], "2025-11-23T23:20:00.000Z");
        assert_eq!(news["source_url"], url);
        assert_eq!(news["status"], "published");
        let body = news["body_html"].as_str().unwrap();
        assert!(
            !body.contains("script") && !body.contains("onerror"),
            "{body}"
        );
        if path == "imageonly" {
            assert_eq!(
                body.matches("<img src=\"https://mmbiz.qpic.cn/").count(),
                2,
                "{body}"
            );
        }
        for device in [&mut app, &mut mini] {
            let e = device.event_of(&topic, kind::NEWS_PUBLISHED).await;
            assert_eq!(e.data["news"]["id"], news["id"]);
            assert_eq!(e.data["news"]["title"], title);
        }
    }
    let again = cluster
        .post(
            0,
            &root,
            &format!("/unions/{union}/news/imports"),
            &json!({"url": format!("{}/s/normal", fake.base)}),
        )
        .await;
    assert_eq!(again.status(), 409);
    let feed: Value = cluster
        .get(1, &mini_token, &format!("/unions/{union}/news"))
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["图说劳模", "职工书屋开放", "工会法知识问答"]);
}

#[actix_rt::test]
async fn refused_links_fail_clearly_within_the_timeout_and_write_nothing() {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake, 1).await;
    let root = cluster.root_admin_token().await;
    let path = format!("/unions/{}/news/imports", cluster.root_union);
    let cases = [
        (
            "https://evil.example.com/s/abc".to_owned(),
            422,
            "only links to",
        ),
        (format!("http://{}/s/normal", fake.host), 422, "https://"),
        (
            format!("{}/s/redirect-private", fake.base),
            422,
            "redirects to a host that is not allowed",
        ),
        (format!("{}/s/huge", fake.base), 422, "larger than"),
        (
            format!("{}/s/gone", fake.base),
            422,
            "no article at this link",
        ),
        (format!("{}/s/deleted", fake.base), 422, "deleted"),
        (
            format!("{}/s/silent", fake.base),
            503,
            "did not answer within 1.5 s",
        ),
    ];
    for (url, status, says) in cases {
        let started = Instant::now();
        let r = cluster.post(0, &root, &path, &json!({"url": url})).await;
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{url} took {:?}",
            started.elapsed()
        );
        assert_eq!(r.status(), status, "{url}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{url}: {text}");
    }
    assert_eq!(cluster.count("SELECT count(*) FROM news", &[]).await, 0);

    // While WeChat hangs on one import, the node answers everything else at once.
    let silent = json!({"url": format!("{}/s/silent", fake.base)});
    let hanging = cluster.post(0, &root, &path, &silent);
    let others = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        for _ in 0..5 {
            assert_eq!(cluster.get(0, &root, "/me").await.status(), 200);
        }
        started.elapsed()
    };
    let (hung, quick) = tokio::join!(hanging, others);
    assert_eq!(hung.status(), 503);
    assert!(quick < Duration::from_millis(500), "{quick:?}");
}

#[actix_rt::test]
async fn authored_html_is_cleaned_and_subtree_news_reaches_the_unions_below_live() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let child = cluster.child_union(cluster.root_union, "市总工会").await;
    let (member, _) = cluster.verified_user(0, "13800001601", "app", 1601).await;
    cluster.admit(&root, &member, child).await;
    let topic = format!("union:{child}");
    let mut app = cluster.ws(0, Codec::Json).await;
    app.watch(&member, ClientKind::App, &[&topic]).await;

    let form = json!({
        "title": "全省劳模表彰",
        "body_html": "<p>表彰名单<script>steal()</script><img src=\"https://x/1.jpg\" onerror=\"steal()\"></p>",
        "scope": "subtree",
    });
    let created = cluster
        .post(
            0,
            &root,
            &format!("/unions/{}/news", cluster.root_union),
            &form,
        )
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let news: Value = created.json().await.unwrap();
    let body = news["body_html"].as_str().unwrap();
    assert!(
        !body.contains("<script") && !body.contains("onerror="),
        "{body}"
    );
    assert!(body.contains("<img src=\"https://x/1.jpg\">"), "{body}");
    assert_eq!(news["status"], "draft");
    let id = news["id"].as_i64().unwrap();
    let hidden = cluster.get(0, &member, &format!("/news/{id}")).await;
    assert_eq!(hidden.status(), 404, "drafts are for admins");

    assert_eq!(
        cluster
            .post(0, &root, &format!("/news/{id}/publish"), &json!({}))
            .await
            .status(),
        200
    );
    let seen = app.event_of(&topic, kind::NEWS_PUBLISHED).await;
    assert_eq!(seen.data["news"]["id"], id);
    let feed: Value = cluster
        .get(0, &member, &format!("/unions/{child}/news"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        feed["items"][0]["id"], id,
        "the ancestor's subtree news is in the child's feed"
    );
    let edit = cluster
        .http
        .put(cluster.url(0, &format!("/news/{id}")))
        .bearer_auth(&root)
        .json(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        edit.status(),
        409,
        "published articles are unpublished before editing"
    );
    assert_eq!(
        cluster
            .post(0, &root, &format!("/news/{id}/unpublish"), &json!({}))
            .await
            .status(),
        200
    );
    let gone = app.event_of(&topic, kind::NEWS_UNPUBLISHED).await;
    assert_eq!(gone.data["news_id"], id);
    let not_admin = cluster
        .post(0, &member, &format!("/unions/{child}/news"), &form)
        .await;
    assert_eq!(not_admin.status(), 403);
}

#[actix_rt::test]
async fn one_article_by_its_short_and_long_links_is_imported_once_and_a_known_link_is_not_fetched_again(
) {
    let fake = wechat_fake::spawn();
    let cluster = cluster_with(&fake, 1).await;
    let root = cluster.root_admin_token().await;
    let path = format!("/unions/{}/news/imports", cluster.root_union);
    let short = format!("{}/s/short", fake.base);
    let long = format!(
        "{}/s?__biz=MzA5&mid=2651&idx=1&sn=c0ffee&chksm=77&scene=21#wechat_redirect",
        fake.base
    );
    let first = cluster.post(0, &root, &path, &json!({"url": short})).await;
    assert_eq!(first.status(), 201, "{}", first.text().await.unwrap());
    assert_eq!(fake.api.lock().unwrap().pages_served, 1);

    let by_long = cluster.post(0, &root, &path, &json!({"url": long})).await;
    assert_eq!(
        by_long.status(),
        409,
        "the long form names the same article"
    );
    let served = fake.api.lock().unwrap().pages_served;
    let again = cluster.post(0, &root, &path, &json!({"url": short})).await;
    assert_eq!(again.status(), 409);
    let long_again = cluster.post(0, &root, &path, &json!({"url": long})).await;
    assert_eq!(long_again.status(), 409);
    assert_eq!(
        fake.api.lock().unwrap().pages_served,
        served,
        "known links are refused without fetching"
    );
    assert_eq!(cluster.count("SELECT count(*) FROM news", &[]).await, 1);
}
