//! Events wait in the outbox between their change's commit and a log writer's batch: a
//! snapshot taken meanwhile still matches its seq, and events no node was woken for (its
//! node died right after the commit) are moved by another's sweep.

use std::time::Duration;

use gonghui_actors::store::events::SEQUENCING_LOCK;
use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::json;

use crate::helpers::Cluster;

#[actix_rt::test]
async fn a_snapshot_taken_while_its_events_wait_counts_them_and_they_never_come_again() {
    let cluster = Cluster::start(1).await;
    let (token, member) = cluster.verified_user(0, "13833330000", "app", 33).await;
    cluster.logged().await;
    let topic = format!("member:{member}");
    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&token, ClientKind::App).await;

    // Hold the log writers back: the application commits, its events wait.
    cluster
        .db
        .execute("SELECT pg_advisory_lock($1)", &[&SEQUENCING_LOCK])
        .await
        .unwrap();
    let applied = cluster.apply(0, &token, cluster.root_union, "等待中").await;
    let waiting = cluster
        .count("SELECT count(*) FROM outbox WHERE topic = $1", &[&topic])
        .await;
    assert!(waiting > 0, "the application's events wait in the outbox");

    let (reply, _) = tokio::join!(socket.subscribe(&topic, None), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster
            .db
            .execute("SELECT pg_advisory_unlock($1)", &[&SEQUENCING_LOCK])
            .await
            .unwrap();
    });
    let reply = reply.unwrap();
    let snapshot = reply.snapshot.unwrap();
    assert_eq!(snapshot["applications"][0]["id"], applied, "{snapshot}");
    cluster.logged().await;
    let head: i64 = cluster
        .db
        .query_one("SELECT head FROM topics WHERE topic = $1", &[&topic])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reply.seq, head as u64, "the snapshot counts what it shows");

    // The next change is the first event this subscriber hears, right after its seq.
    let root = cluster.root_admin_token().await;
    let r = cluster
        .post(
            0,
            &root,
            &format!("/applications/{applied}/reject"),
            &json!({ "reason": "材料不全" }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let next = socket.next_event().await;
    assert_eq!(
        (next.seq, next.kind.as_str()),
        (reply.seq + 1, kind::APPLICATION_REJECTED)
    );
}

#[actix_rt::test]
async fn events_no_node_was_woken_for_are_moved_by_a_sweep() {
    let cluster = Cluster::start(2).await;
    let (token, member) = cluster.verified_user(1, "13833330001", "app", 34).await;
    let topic = format!("member:{member}");
    let mut socket = cluster.ws(1, Codec::MsgPack).await;
    let replies = socket.watch(&token, ClientKind::App, &[&topic]).await;

    // What a node killed between its commit and its log writer leaves behind.
    cluster
        .put_in_outbox(&topic, json!({ "ids": [], "unread": 0 }))
        .await;
    let moved = socket.next_event().await;
    assert_eq!(
        (moved.seq, moved.kind.as_str()),
        (replies[0].seq + 1, kind::NOTIFICATION_READ)
    );
}

#[actix_rt::test]
async fn one_batch_numbers_each_topics_events_in_the_order_they_were_written() {
    let cluster = Cluster::start(1).await;
    let (token, member) = cluster.verified_user(0, "13833330002", "app", 35).await;
    let mine = format!("member:{member}");
    let other = "member:999999".to_string();
    let mut socket = cluster.ws(0, Codec::Json).await;
    let replies = socket.watch(&token, ClientKind::App, &[&mine]).await;

    // Seven events over two topics wait together, so one batch moves them all.
    cluster
        .db
        .execute("SELECT pg_advisory_lock($1)", &[&SEQUENCING_LOCK])
        .await
        .unwrap();
    let written = [&mine, &other, &mine, &mine, &other, &mine, &other];
    for (i, topic) in written.iter().enumerate() {
        cluster
            .put_in_outbox(topic, json!({ "ids": [i], "unread": 0 }))
            .await;
    }
    cluster
        .db
        .execute("SELECT pg_advisory_unlock($1)", &[&SEQUENCING_LOCK])
        .await
        .unwrap();

    let mut heard = Vec::new();
    for _ in 0..4 {
        let e = socket.next_event().await;
        heard.push((e.seq - replies[0].seq, e.data["ids"][0].as_u64().unwrap()));
    }
    assert_eq!(heard, [(1, 0), (2, 2), (3, 3), (4, 5)]);
    cluster.logged().await;
    let logged: Vec<(i64, i64)> = cluster
        .db
        .query(
            "SELECT seq, (data->'ids'->>0)::bigint FROM events WHERE topic = $1 ORDER BY seq",
            &[&other],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(logged, [(1, 1), (2, 4), (3, 6)]);
}

#[actix_rt::test]
async fn the_log_writer_reads_the_outbox_by_its_key_not_by_scanning_its_dead_rows() {
    let cluster = Cluster::start(1).await;
    let scans = || async {
        cluster
            .db
            .batch_execute("SELECT pg_stat_force_next_flush()")
            .await
            .unwrap();
        let row = cluster
            .db
            .query_one(
                "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'outbox'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    let before = scans().await;
    // More batches than PL/pgSQL plans afresh before it keeps one plan for the session.
    for i in 0..8 {
        cluster
            .put_in_outbox("member:999999", json!({ "ids": [i], "unread": 0 }))
            .await;
        cluster
            .db
            .execute("SELECT sequence_outbox(500)", &[])
            .await
            .unwrap();
    }
    assert_eq!(scans().await, before, "a batch scanned the outbox's heap");
}
