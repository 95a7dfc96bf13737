//! The restore drill of docs/OPERATIONS.md, run for real: a base backup and archived WAL,
//! a restore to a point before the last change, `gonghui restored`, and what a client that
//! saw the undone change is told when it resumes.

use clap::Parser;
use gonghui::cli::Cli;
use gonghui_actors::store::events::RESTORE_GAP;
use gonghui_loadtest::postgres::Throwaway;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::Value;

use crate::helpers::{spawn_node, test_settings, Cluster, TEST_DATA_KEY};

/// The ids of an approval queue's pending applications, from its snapshot.
fn pending(snapshot: &Value) -> Vec<i64> {
    snapshot["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

#[actix_rt::test]
async fn after_a_restore_to_an_earlier_point_every_client_resumes_with_a_fresh_snapshot() {
    let pg = Throwaway::archiving().expect("a throwaway Postgres starts");
    let cluster = Cluster::start_with(1, &pg.base(), |_| {}).await;
    let admin = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let queue = format!("union:{union}:admin");
    let mut applicants = Vec::new();
    for n in 0..3 {
        let phone = format!("1386666000{n}");
        applicants.push(cluster.verified_user(0, &phone, "app", 660 + n).await.0);
    }
    let mut console = cluster.ws(0, Codec::Json).await;
    console.hello(&admin, ClientKind::Console).await;
    let start = console.subscribe(&queue, None).await.unwrap().seq;

    let first = cluster.apply(0, &applicants[0], union, "").await;
    pg.base_backup().expect("a base backup");
    let second = cluster.apply(0, &applicants[1], union, "").await;
    cluster
        .db
        .batch_execute("SELECT pg_create_restore_point('drill')")
        .await
        .unwrap();
    // The change the restore will undo; the console sees it.
    cluster.apply(0, &applicants[2], union, "").await;
    let mut seen = start;
    for _ in 0..3 {
        seen = console.next_event().await.seq;
    }
    assert_eq!(seen, start + 3);
    let segment: String = cluster
        .db
        .query_one("SELECT pg_walfile_name(pg_switch_wal())", &[])
        .await
        .unwrap()
        .get(0);
    loop {
        let archived: Option<String> = cluster
            .db
            .query_one("SELECT last_archived_wal FROM pg_stat_archiver", &[])
            .await
            .unwrap()
            .get(0);
        if archived.is_some_and(|a| a >= segment) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Every node stopped, the database restored to the point, seqs moved on.
    cluster.nodes[0].stopper.stop().await;
    pg.restore_to("drill").expect("the restore");
    let restored = Cli::parse_from([
        "gonghui",
        "--database-url",
        &cluster.database_url,
        "--data-key",
        TEST_DATA_KEY,
        "restored",
    ]);
    restored.run().await.expect("gonghui restored");

    // The console comes back with the seq of the undone change: it is told to start over
    // from the restored state, which has the first two applications and not the third.
    let node = spawn_node(&test_settings(
        &cluster.database_url,
        "http://127.0.0.1:9/sms",
    ))
    .await;
    let mut back = crate::helpers::WsClient::connect(&node.ws, Codec::Json).await;
    back.hello(&admin, ClientKind::Console).await;
    let reply = back.subscribe(&queue, Some(seen)).await.unwrap();
    assert!(reply.reset, "a resume past the restore is reset");
    assert_eq!(reply.seq, start + 2 + RESTORE_GAP);
    assert_eq!(pending(&reply.snapshot.unwrap()), vec![first, second]);

    // New changes get seqs no client has seen.
    let again = cluster
        .http
        .post(format!("{}/api/v1/unions/{union}/applications", node.http))
        .bearer_auth(&applicants[2])
        .json(&serde_json::json!({"kind": "join"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    let third = again.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(back.next_event().await.seq, reply.seq + 1);

    // A client that comes back only now still holds the undone change's seq. Without the
    // seqs moved on, the new change would have been given that very seq, and this resume
    // would have been answered "nothing new" over a stale queue.
    let mut late = crate::helpers::WsClient::connect(&node.ws, Codec::MsgPack).await;
    late.hello(&admin, ClientKind::Console).await;
    let reply = late.subscribe(&queue, Some(seen)).await.unwrap();
    assert!(reply.reset);
    let mut queued = pending(&reply.snapshot.unwrap());
    if reply.seq == start + 2 + RESTORE_GAP {
        // The snapshot is the one the node holds; the change after it follows.
        let e = late.next_event().await;
        assert_eq!(e.seq, reply.seq + 1);
        queued.push(e.data["application"]["id"].as_i64().unwrap());
    }
    assert_eq!(queued, vec![first, second, third]);
}
