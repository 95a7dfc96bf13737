//! Request ids and the access log: what an operator greps for when a user reports a
//! failure — and nothing a log reader may not see.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use gonghui_protocol::{ClientKind, Codec};
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{access_log, Cluster};

/// The access line holding `needle`, once written (a socket's is written as it ends).
async fn line_with(needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = access_log().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "no access line holds {needle}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn request_id(cluster: &Cluster, token: &str, sent: Option<&str>) -> String {
    let mut request = cluster.http.get(cluster.url(0, "/me")).bearer_auth(token);
    if let Some(id) = sent {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_rt::test]
async fn a_request_is_logged_once_with_its_id_route_status_and_user_never_its_token() {
    let cluster = Cluster::start(1).await;
    let token = cluster.root_admin_token().await;
    let me: serde_json::Value = cluster.get(0, &token, "/me").await.json().await.unwrap();
    let user = me["user"]["id"].as_i64().unwrap();

    let sent = format!("probe-{}", rand::random::<u32>());
    assert_eq!(request_id(&cluster, &token, Some(&sent)).await, sent);

    let line = line_with(&format!("id={sent}")).await;
    for field in [
        "method=GET",
        "route=/api/v1/me",
        "status=200",
        &format!("user={user}"),
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert_eq!(access_log().matches(&format!("id={sent}")).count(), 1);
    assert!(!access_log().contains(&token), "a token was logged");
}

#[actix_rt::test]
async fn requests_without_a_sane_id_get_a_new_one_each() {
    let cluster = Cluster::start(1).await;
    let token = cluster.root_admin_token().await;
    let long = "a".repeat(65);
    let mut ids = Vec::new();
    for sent in [None, None, Some("has spaces in it"), Some(long.as_str())] {
        let id = request_id(&cluster, &token, sent).await;
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{sent:?} got {id}"
        );
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every request got its own id");
}

#[actix_rt::test]
async fn a_sockets_end_is_logged_with_its_user_and_close_code() {
    let cluster = Cluster::start(1).await;
    let (token, user) = cluster.verified_user(0, "13877770000", "app", 77).await;
    let mut ws = cluster.ws(0, Codec::Json).await;
    let hello = ws.hello(&token, ClientKind::App).await;
    ws.stream
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "bye".into(),
        })))
        .await
        .unwrap();

    let line = line_with(&format!("session={} ", hello.session_id)).await;
    for field in [
        "socket ended",
        &format!("user={user}"),
        "client=\"app\"",
        "code=1001",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
