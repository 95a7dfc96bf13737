use serde_json::json;

use crate::helpers::Cluster;

#[actix_rt::test]
async fn racing_approve_and_reject_on_two_nodes_give_one_winner_one_conflict_and_one_audit_row() {
    let cluster = Cluster::start(2).await;
    let admin_a = cluster.root_admin_token().await;
    let (other_admin, other_id) = cluster.login_sms(1, "13900000009", "console").await;
    cluster
        .appoint(cluster.root_union, other_id, &["members.review"])
        .await;
    for round in 0..5u32 {
        let (token, _) = cluster
            .verified_user(0, &format!("1350000{round:04}"), "app", 200 + round)
            .await;
        let id = cluster.apply(0, &token, cluster.root_union, "race").await;
        let (approve, reject) = (
            format!("/applications/{id}/approve"),
            format!("/applications/{id}/reject"),
        );
        let (empty, reason) = (json!({}), json!({"reason": "no"}));
        let (a, b) = tokio::join!(
            cluster.post(0, &admin_a, &approve, &empty),
            cluster.post(1, &other_admin, &reject, &reason)
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}");
        let loser = if a.status() == 409 { a } else { b };
        assert_eq!(
            loser.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "conflict"
        );
        let audits: i64 = cluster
            .db
            .query_one("SELECT count(*) FROM audit_log WHERE subject_type = 'application' AND subject_id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(audits, 1);
    }
}
