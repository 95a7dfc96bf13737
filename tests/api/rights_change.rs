//! When the tree changes, every open subscription on every node is checked again,
//! whatever its topic kind: a union moved away from an admin's subtree stops reaching
//! them on its union, admin and activity topics alike, while its own members stay.

use chrono::Utc;
use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::Cluster;

#[actix_rt::test]
async fn moving_a_union_ends_every_topic_of_it_for_the_old_ancestors_admin_on_every_node() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let p1 = cluster.child_union(cluster.root_union, "一区").await;
    let p2 = cluster.child_union(cluster.root_union, "二区").await;
    let c = cluster.child_union(p1, "丙厂").await;
    let (old_admin, old_admin_id) = cluster.login_sms(0, "13855620001", "console").await;
    cluster
        .appoint(p1, old_admin_id, &["members.review", "activities.manage"])
        .await;
    let (member, _) = cluster.verified_user(0, "13855620002", "app", 5620).await;
    cluster.admit(&root, &member, c).await;
    let form = json!({"kind": "vote", "title": "评选", "starts_at": Utc::now().to_rfc3339(),
        "ends_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "config": {"options": [{"id": "a", "text": "甲"}, {"id": "b", "text": "乙"}], "max_choices": 1}});
    let created = cluster
        .post(0, &root, &format!("/unions/{c}/activities"), &form)
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let activity = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let published = cluster
        .post(
            0,
            &root,
            &format!("/activities/{activity}/publish"),
            &json!({}),
        )
        .await;
    assert_eq!(published.status(), 200);

    let topics = [
        format!("union:{c}"),
        format!("union:{c}:admin"),
        format!("activity:{activity}"),
    ];
    let mut watcher = cluster.ws(1, Codec::Json).await;
    watcher
        .watch(&old_admin, ClientKind::Console, &topics)
        .await;
    let mut member_socket = cluster.ws(1, Codec::MsgPack).await;
    member_socket
        .watch(&member, ClientKind::App, &[&topics[0]])
        .await;

    let moved = cluster
        .post(
            0,
            &root,
            &format!("/unions/{c}/modifications"),
            &json!({"parent_id": p2}),
        )
        .await;
    assert_eq!(moved.status(), 201, "{}", moved.text().await.unwrap());
    let request = moved.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let approved = cluster
        .post(
            0,
            &root,
            &format!("/org-requests/{request}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(approved.status(), 200, "{}", approved.text().await.unwrap());

    let mut ended = Vec::new();
    for _ in 0..3 {
        let (topic, error) = watcher.unsubscribed().await;
        assert_eq!(error.code, "forbidden");
        ended.push(topic);
    }
    ended.sort();
    let mut expected = topics.to_vec();
    expected.sort();
    assert_eq!(ended, expected);
    let refused = watcher.subscribe(&topics[0], None).await.unwrap_err();
    assert_eq!(refused.code, "forbidden");
    member_socket
        .event_of(&topics[0], kind::UNION_UPDATED)
        .await;
}
