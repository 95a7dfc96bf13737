use std::time::Duration;

use gonghui_loadtest::postgres::{Stop, Throwaway};
use gonghui_protocol::{ClientKind, Codec};
use serde_json::Value;

use crate::helpers::{json_of, Cluster};

#[actix_rt::test]
async fn after_a_database_restart_events_flow_again_and_a_resuming_client_misses_nothing() {
    let pg = Throwaway::start().expect("a throwaway Postgres starts");
    let cluster = Cluster::start_with(2, &pg.base(), |_| {}).await;
    let admin = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let queue = format!("union:{union}:admin");
    let (member, _) = cluster.verified_user(1, "13877770000", "app", 77).await;
    let (late, _) = cluster.verified_user(1, "13877770001", "app", 78).await;

    let mut watching = cluster.ws(0, Codec::Json).await;
    watching.hello(&admin, ClientKind::Console).await;
    let start = watching.subscribe(&queue, None).await.unwrap().seq;
    let mut away = cluster.ws(1, Codec::MsgPack).await;
    away.hello(&admin, ClientKind::Console).await;
    away.subscribe(&queue, None).await.unwrap();
    cluster.apply(1, &member, union, "before").await;
    assert_eq!(watching.next_event().await.seq, start + 1);
    assert_eq!(away.next_event().await.seq, start + 1);
    drop(away);

    pg.down(Stop::Fast).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let down = json_of(
        cluster
            .http
            .get(format!("{}/readyz", cluster.nodes[0].http)),
    )
    .await;
    assert_eq!(down["database"], false);
    pg.up().unwrap();

    // The first writes after the restart may meet a stale pooled connection: retry as a client would.
    let mut application = None;
    for _ in 0..50 {
        let r = cluster
            .post(
                1,
                &late,
                &format!("/unions/{union}/applications"),
                &serde_json::json!({"kind": "join"}),
            )
            .await;
        if r.status() == 201 {
            application = Some(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
            break;
        }
        assert_eq!(
            r.status(),
            503,
            "only unavailability is acceptable while reconnecting"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let application = application.expect("writes work again after the restart");
    let e = watching.next_event().await;
    assert_eq!(
        (e.seq, e.data["application"]["id"].as_i64()),
        (start + 2, Some(application)),
        "live events flow again"
    );

    let mut back = cluster.ws(1, Codec::MsgPack).await;
    back.hello(&admin, ClientKind::Console).await;
    back.subscribe(&queue, Some(start + 1)).await.unwrap();
    assert_eq!(
        back.next_event().await.seq,
        start + 2,
        "the resuming client misses nothing"
    );
    for node in &cluster.nodes {
        let mut ready = 0;
        for _ in 0..50 {
            ready = cluster
                .http
                .get(format!("{}/readyz", node.http))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if ready == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(ready, 200, "the bridge listens again");
    }
}

#[actix_rt::test]
async fn a_postgres_that_accepts_but_never_answers_is_retried_with_backoff_not_waited_on_forever() {
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hole.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let swallow = actix_rt::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    let mut settings = crate::helpers::test_settings(
        &format!("postgres://postgres@127.0.0.1:{port}/gonghui_black_hole"),
        "http://127.0.0.1:9/sms",
    );
    settings.db_connect_timeout_secs = Some(1);
    let config = gonghui::config::Config::resolve(settings, "127.0.0.1:0".into()).unwrap();
    let starting = gonghui::startup::Application::build(config);
    // 1 s for the first try, 1 s of backoff, 1 s for the second, 2 s of backoff, the third.
    let outcome = tokio::time::timeout(Duration::from_millis(4_500), starting).await;
    assert!(
        outcome.is_err(),
        "the node does not start without a database"
    );
    let tries = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=3).contains(&tries), "tried {tries} times");
    swallow.abort();
}
