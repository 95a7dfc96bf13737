//! Input shaped to hurt: a body that never arrives, a NUL where text belongs, an
//! Idempotency-Key that would keep a session token, an imported page with a script
//! for a cover. Each gets a clear error or is cleaned, and nothing partial is written.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{pg_base, Cluster};
use crate::wechat_fake;

#[actix_rt::test]
async fn a_body_that_never_arrives_is_answered_408_in_time() {
    let cluster = Cluster::start_with(1, &pg_base(), |s| s.body_timeout_secs = Some(1)).await;
    let address = cluster.nodes[0]
        .http
        .trim_start_matches("http://")
        .to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("answered before the test gives up")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn a_nul_in_any_text_is_422_naming_the_field_and_writes_nothing() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let options = json!([{"id": "a", "text": "甲"}, {"id": "b", "text": "乙"}]);
    let form = |description: &str, option: &str| {
        json!({"kind": "vote", "title": "评选", "description": description,
            "starts_at": Utc::now().to_rfc3339(),
            "ends_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            "config": {"options": [{"id": "a", "text": option}, options[1]], "max_choices": 1}})
    };
    let cases = [
        (form("说明\u{0}", "甲"), "description"),
        (form("说明", "甲\u{0}"), "config.options[0].text"),
    ];
    for (body, field) in cases {
        let r = cluster
            .post(0, &root, &format!("/unions/{union}/activities"), &body)
            .await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["fields"][field].is_string(), "{body}");
    }
    let unbounded = form(&"长".repeat(5001), "甲");
    let r = cluster
        .post(0, &root, &format!("/unions/{union}/activities"), &unbounded)
        .await;
    assert_eq!(r.status(), 422);
    let note = json!({"kind": "join", "note": "请\u{0}批准"});
    let (member, _) = cluster.verified_user(0, "13855600001", "app", 5601).await;
    let r = cluster
        .post(0, &member, &format!("/unions/{union}/applications"), &note)
        .await;
    assert_eq!(r.status(), 422);
    let written = "SELECT (SELECT count(*) FROM activities) + (SELECT count(*) FROM applications)";
    assert_eq!(cluster.count(written, &[]).await, 0);
}

#[actix_rt::test]
async fn idempotency_never_keeps_a_token_and_tells_bodies_apart() {
    let cluster = Cluster::start(1).await;
    let (token, _) = cluster.login_sms(0, "13855600002", "app").await;
    cluster.second_device("13855600002", 0, "app").await;
    let login = |password: &'static str| {
        cluster
            .http
            .post(cluster.url(0, "/auth/login"))
            .bearer_auth(&token)
            .header("idempotency-key", "login-1")
            .json(&json!({"phone": "13855600002", "password": password, "client": "app"}))
            .send()
    };
    assert_eq!(login("s3cret-pass").await.unwrap().status(), 200);
    let wrong = login("wrong-password").await.unwrap();
    assert_eq!(
        wrong.status(),
        401,
        "a wrong password is never answered with a replayed token"
    );
    let kept = cluster
        .count("SELECT count(*) FROM idempotency_keys", &[])
        .await;
    assert_eq!(kept, 0);

    let mark = |body: Value| {
        cluster
            .http
            .post(cluster.url(0, "/me/notifications/read"))
            .bearer_auth(&token)
            .header("idempotency-key", "read-1")
            .json(&body)
            .send()
    };
    let first = mark(json!({"all": true})).await.unwrap().status();
    assert!(first.is_success(), "{first}");
    let replay = mark(json!({"all": true})).await.unwrap();
    assert_eq!(replay.status(), first);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let other = mark(json!({"ids": [1]})).await.unwrap();
    assert_eq!(
        other.status(),
        422,
        "the same key with another body is another call"
    );
    assert!(!other.headers().contains_key("idempotent-replayed"));
    let body: Value = other.json().await.unwrap();
    assert!(
        body["error"]["fields"]["Idempotency-Key"].is_string(),
        "{body}"
    );
}

#[actix_rt::test]
async fn an_imported_page_with_a_script_cover_and_an_endless_author_is_kept_clean() {
    let fake = wechat_fake::spawn();
    let (host, ca) = (fake.host.clone(), fake.ca_file.clone());
    let cluster = Cluster::start_with(1, &pg_base(), move |s| {
        s.wechat_allowed_hosts = Some(host.clone());
        s.wechat_ca_file = Some(ca.clone());
    })
    .await;
    let root = cluster.root_admin_token().await;
    let url = format!("{}/s/hostile", fake.base);
    let r = cluster
        .post(
            0,
            &root,
            &format!("/unions/{}/news/imports", cluster.root_union),
            &json!({"url": url}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let row = cluster
        .db
        .query_one("SELECT cover_url, char_length(author) FROM news", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert_eq!(row.get::<_, Option<i32>>(1), Some(100));
}
