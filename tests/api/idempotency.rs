//! Idempotency keys whose first request never finished: found by the chaos scenario,
//! where a node killed between reserving a key and storing its answer left the key
//! "still in progress" for a day, so the client could never learn what became of its call.

use std::time::Duration;

use gonghui_actors::crypto::fingerprint;
use serde_json::Value;

use crate::helpers::{pg_base, Cluster};

const BODY: &[u8] = br#"{"kind":"join"}"#;

async fn apply(cluster: &Cluster, token: &str, key: &str) -> (u16, Value) {
    let r = cluster
        .http
        .post(cluster.url(0, &format!("/unions/{}/applications", cluster.root_union)))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[actix_rt::test]
async fn a_key_left_reserved_by_a_dead_node_is_taken_over_once_its_lease_runs_out() {
    let cluster = Cluster::start_with(1, &pg_base(), |s| s.idempotency_lease_secs = Some(2)).await;
    let (token, user) = cluster.verified_user(0, "13855550001", "app", 551).await;

    // What a node killed mid-request leaves: the key reserved for this very call, no
    // answer stored, and (its transaction never committed) nothing written.
    let call = format!(
        "POST /api/v1/unions/{}/applications {}",
        cluster.root_union,
        fingerprint(BODY)
    );
    cluster
        .db
        .execute(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint) VALUES ($1, 'k-1', $2)",
            &[&user, &call],
        )
        .await
        .unwrap();

    // Within the lease a retry is told the first may still be running…
    let (status, body) = apply(&cluster, &token, "k-1").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"]["code"], "in_progress",
        "not a business conflict"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("still in progress"));

    // …after it, the retry runs the call, once, and its answer is kept for the next.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, body) = apply(&cluster, &token, "k-1").await;
    assert_eq!(status, 201, "{body}");
    let (again, replayed) = apply(&cluster, &token, "k-1").await;
    assert_eq!((again, &replayed["id"]), (201, &body["id"]));
    let filed = cluster
        .count(
            "SELECT count(*) FROM applications WHERE user_id = $1",
            &[&user],
        )
        .await;
    assert_eq!(filed, 1);
}
