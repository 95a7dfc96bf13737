//! The reads a crowd of connecting sessions asks together (token checks, hello topics,
//! union read checks) look each key up by its index: a batch must never read the whole
//! memberships or tokens table, which a planner may prefer (a hashed subplan, a hash
//! join) when a batch is planned generically — every batch of a connect burst then read
//! every member.

use std::time::Duration;

use futures_util::future::join_all;
use gonghui_actors::crypto::Secrets;
use gonghui_actors::store::Store;
use gonghui_protocol::Topic;

use crate::helpers::{Cluster, TEST_DATA_KEY};

/// Rows read from `table` so far, by scans and by index, as the statistics know them.
async fn rows_read(cluster: &Cluster, table: &str) -> i64 {
    cluster
        .db
        .query_one(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
             FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .await
        .unwrap()
        .get(0)
}

#[actix_rt::test]
async fn a_burst_of_hellos_reads_each_members_rows_not_the_tables() {
    let cluster = Cluster::start(1).await;
    let members = 3000;
    let seeded = cluster.seed_members(members).await;
    cluster
        .db
        .batch_execute("ANALYZE memberships; ANALYZE auth_tokens")
        .await
        .unwrap();
    let tables = ["memberships", "auth_tokens"];
    let mut before = Vec::new();
    for table in tables {
        before.push(rows_read(&cluster, table).await);
    }

    // One connection, so that the checks asked meanwhile wait and go in batches.
    let store = Store::connect(
        &cluster.database_url,
        1,
        Secrets::from_hex(TEST_DATA_KEY).unwrap(),
    )
    .unwrap();
    let asked = &seeded.members[..300];
    let checks = join_all(asked.iter().map(|&user| {
        let store = &store;
        let token = format!("{}:{user}", seeded.secret);
        async move {
            let principal = store.authenticate(&token).await.unwrap();
            assert_eq!(principal.user_id, user);
            let topics = store.readable_topics(user).await.unwrap();
            assert!(topics.contains(&format!("union:{}", seeded.union_id)));
            assert!(store
                .can_read(user, Topic::Union(seeded.union_id))
                .await
                .unwrap());
        }
    }))
    .await;
    assert_eq!(checks.len(), asked.len());
    // A backend's statistics are flushed when it exits at the latest.
    drop(store);

    let asked_rows = i64::try_from(asked.len()).unwrap();
    for (table, before) in tables.into_iter().zip(before) {
        let mut read = 0;
        for _ in 0..100 {
            read = rows_read(&cluster, table).await - before;
            if read >= asked_rows {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            read >= asked_rows,
            "{table}: the statistics never came ({read} rows)"
        );
        assert!(
            read < members,
            "{table}: {asked_rows} users' checks read {read} rows, a whole table's worth"
        );
    }
}
