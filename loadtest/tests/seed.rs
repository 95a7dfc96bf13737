//! The seeder's runs stand alone: two made at once on a database with no root each sit
//! under one root the seeder made, and either can be removed first.

use std::time::Duration;

use gonghui_actors::crypto::Secrets;
use gonghui_actors::store::{self, Store};
use gonghui_loadtest::seed::{seed, unseed, SeedPlan};

#[tokio::test]
async fn two_runs_at_once_unseed_in_any_order() {
    let base = std::env::var("TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{base}/gonghui_test_{}", uuid::Uuid::new_v4().simple());
    store::create_database_if_missing(&url).await.unwrap();
    store::migrate(&url).await.unwrap();
    let store = Store::connect(&url, 4, Secrets::from_hex(&"7b".repeat(32)).unwrap()).unwrap();
    let plan = SeedPlan {
        members: 50,
        applicants: 5,
        admins: 2,
        children: 0,
        token_ttl: Duration::from_secs(60),
    };
    let (a, b) = tokio::join!(seed(&store, plan), seed(&store, plan));
    let (a, b) = (a.unwrap(), b.unwrap());
    let conn = store.client().await.unwrap();
    let parents: Vec<Option<i64>> = conn
        .query(
            "SELECT parent_id FROM unions WHERE id = ANY($1) ORDER BY id",
            &[&vec![a.union_id, b.union_id]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(parents[0].is_some(), "a run's union is never the root");
    assert_eq!(parents[0], parents[1], "both runs sit under the one root");
    let phones: i64 = conn
        .query_one("SELECT count(DISTINCT phone) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(phones, 2 * 57, "no two seeded users share a phone");

    assert_eq!(unseed(&store, Some(&a.run)).await.unwrap(), 57);
    assert_eq!(unseed(&store, Some(&b.run)).await.unwrap(), 57);
    let left: i64 = conn
        .query_one("SELECT count(*) FROM unions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "only the root stays");
}
