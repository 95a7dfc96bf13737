//! `/metrics`: who may read it, and that its figures follow what the node really does —
//! sessions, subscriptions, deliveries, requests — and that the Grafana dashboard in
//! docs/ asks only for series a node exports.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, ClientMsg, Codec};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{pg_base, Cluster};
use crate::wechat_fake;

const TOKEN: &str = "scrape-token-0123456789";

async fn scrape(cluster: &Cluster, token: Option<&str>) -> reqwest::Response {
    let mut request = cluster
        .http
        .get(format!("{}/metrics", cluster.nodes[0].http));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn series(cluster: &Cluster) -> String {
    let response = scrape(cluster, Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample written exactly as `sample` (name and labels); 0 when absent.
fn value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Scrapes until `sample` reads `expected` (what a session's end changes is counted as
/// its actor stops, just after the client sees the close).
async fn until(cluster: &Cluster, sample: &str, expected: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = series(cluster).await;
        if value(&text, sample) == expected {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{sample} is {} not {expected}",
            value(&text, sample)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn the_public_port_serves_metrics_only_to_the_tokens_holder() {
    let cluster =
        Cluster::start_with(1, &pg_base(), |s| s.metrics_token = Some(TOKEN.into())).await;
    for token in [None, Some("scrape-token-0123456788"), Some("short")] {
        let response = scrape(&cluster, token).await;
        assert_eq!(response.status(), 401, "{token:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let response = scrape(&cluster, Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
}

#[actix_rt::test]
async fn without_a_token_metrics_are_served_only_on_the_private_address() {
    let cluster = Cluster::start_with(1, &pg_base(), |s| {
        s.metrics_listen = Some("127.0.0.1:0".into())
    })
    .await;
    let response = scrape(&cluster, Some(TOKEN)).await;
    assert_eq!(response.status(), 404);

    let private = cluster.nodes[0].metrics.clone().expect("a private address");
    let response = cluster.http.get(&private).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("# TYPE gonghui_sessions gauge"), "{text}");
    // The private address serves nothing else.
    let api = private.replace("/metrics", "/api/v1/me");
    assert_eq!(cluster.http.get(&api).send().await.unwrap().status(), 404);
}

#[actix_rt::test]
async fn sessions_subscriptions_deliveries_and_requests_are_counted_as_they_happen() {
    let cluster =
        Cluster::start_with(1, &pg_base(), |s| s.metrics_token = Some(TOKEN.into())).await;
    let union = cluster.root_union;
    let (token, member) = cluster.verified_user(0, "13866660001", "app", 661).await;
    let before = series(&cluster).await;
    let me = "gonghui_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}";
    let asked = value(&before, me);
    for _ in 0..3 {
        assert_eq!(cluster.get(0, &token, "/me").await.status(), 200);
    }

    let mut app = cluster.ws(0, Codec::MsgPack).await;
    app.hello(&token, ClientKind::App).await;
    let topic = format!("member:{member}");
    app.subscribe(&topic, None).await.unwrap();
    // Held once, however often it is subscribed; let go once.
    app.subscribe(&topic, None).await.unwrap();
    let gone = topic.clone();
    app.request(|id| ClientMsg::Unsubscribe { id, topic: gone })
        .await
        .unwrap();
    assert_eq!(value(&series(&cluster).await, "gonghui_subscriptions"), 0.0);
    app.subscribe(&topic, None).await.unwrap();
    let text = series(&cluster).await;
    assert_eq!(value(&text, "gonghui_sessions{client=\"app\"}"), 1.0);
    assert_eq!(value(&text, "gonghui_subscriptions"), 1.0);
    assert!(value(&text, "gonghui_topic_owners") >= 1.0, "{text}");
    assert_eq!(value(&text, me), asked + 3.0);
    let delivered = value(&text, "gonghui_events_delivered_total");
    let lags = value(&text, "gonghui_fanout_lag_seconds_count");

    cluster.apply(0, &token, union, "请批准").await;
    app.event_of(&topic, kind::APPLICATION_CREATED).await;
    let text = series(&cluster).await;
    assert!(value(&text, "gonghui_events_delivered_total") > delivered);
    assert!(value(&text, "gonghui_fanout_lag_seconds_count") > lags);
    assert!(value(&text, "gonghui_bridge_lag_seconds_count") >= 1.0);
    let route = "route=\"/api/v1/unions/{union_id}/applications\"";
    assert!(
        text.contains(&format!(
            "gonghui_http_request_duration_seconds_count{{method=\"POST\",{route}}} 1"
        )),
        "{text}"
    );

    app.stream
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    // The registry hears of the end after the session counted it.
    let text = until(&cluster, "gonghui_sessions{client=\"app\"}", 0.0).await;
    assert_eq!(
        value(&text, "gonghui_sessions_closed_total{code=\"1001\"}"),
        1.0
    );
    assert_eq!(value(&text, "gonghui_subscriptions"), 0.0);
}

/// The metric names a query mentions (`gonghui_…`, a histogram's `_bucket`, `_sum` and
/// `_count` named by their family).
fn names_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("gonghui_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.push(family.to_owned());
        rest = &tail[end..];
    }
    names
}

#[actix_rt::test]
async fn every_dashboard_panel_queries_series_a_node_exports() {
    let dashboard: Value = serde_json::from_str(include_str!("../../docs/grafana/gonghui.json"))
        .expect("the dashboard is JSON");
    let mut asked = BTreeSet::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        let targets = panel["targets"].as_array();
        if panel["type"] == "row" {
            continue;
        }
        let targets = targets.unwrap_or_else(|| panic!("{} has no targets", panel["title"]));
        assert!(!targets.is_empty(), "{} has no targets", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            let names = names_in(expr);
            assert!(!names.is_empty(), "{expr} names no gonghui series");
            asked.extend(names);
        }
    }

    // A node that has done a little of everything the dashboard shows.
    let fake = wechat_fake::spawn();
    let (host, ca, base) = (fake.host.clone(), fake.ca_file.clone(), fake.base.clone());
    let cluster = Cluster::start_with(1, &pg_base(), move |s| {
        s.metrics_token = Some(TOKEN.into());
        s.wechat_allowed_hosts = Some(host.clone());
        s.wechat_ca_file = Some(ca.clone());
        s.wechat_api = Some(base.clone());
        s.wechat_poll_secs = Some(0);
    })
    .await;
    let admin = cluster.root_admin_token().await;
    let bound = cluster
        .http
        .put(cluster.url(0, &format!("/unions/{}/wechat/account", cluster.root_union)))
        .bearer_auth(&admin)
        .json(&json!({"app_id": "wx-account", "secret": "s3cret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bound.status(), 200, "{}", bound.text().await.unwrap());
    let mut console = cluster.ws(0, Codec::Json).await;
    console.hello(&admin, ClientKind::Console).await;
    console.stream.send(Message::Close(None)).await.unwrap();

    // A session's end is counted as its actor stops, just after the client sees it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = series(&cluster).await;
        let exported: BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
            .collect();
        let missing: Vec<&String> = asked
            .iter()
            .filter(|n| !exported.contains(n.as_str()))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard asks for {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(asked.len() >= 15, "the dashboard shows only {asked:?}");
}
