//! Transfers (会籍转移): a member of A moves to B when B's admins approve.

use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::Cluster;

#[actix_rt::test]
async fn a_transfer_approved_on_one_node_moves_the_membership_while_the_member_watches_on_another()
{
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲公司工会").await;
    let b = cluster.child_union(cluster.root_union, "乙公司工会").await;
    let (admin_a, admin_a_id) = cluster.login_sms(0, "13900000101", "console").await;
    let (admin_b, admin_b_id) = cluster.login_sms(0, "13900000102", "console").await;
    cluster.appoint(a, admin_a_id, &["members.review"]).await;
    cluster.appoint(b, admin_b_id, &["members.review"]).await;
    let (member, member_id) = cluster
        .verified_user(1, "13800000101", "miniprogram", 101)
        .await;
    cluster.admit(&root, &member, a).await;

    // A's admin watches A on node A; B's admin watches B there too; the member is on node B.
    let mut console_a = cluster.ws(0, Codec::Json).await;
    let a_topics = [format!("union:{a}"), format!("union:{a}:admin")];
    console_a
        .watch(&admin_a, ClientKind::Console, &a_topics)
        .await;
    let mut console_b = cluster.ws(0, Codec::MsgPack).await;
    let b_topics = [format!("union:{b}"), format!("union:{b}:admin")];
    let b_subs = console_b
        .watch(&admin_b, ClientKind::Console, &b_topics)
        .await;
    let mut mini = cluster.ws(1, Codec::Json).await;
    let me_topic = format!("member:{member_id}");
    mini.watch(&member, ClientKind::Miniprogram, &[&me_topic])
        .await;

    let filed = cluster
        .post(
            1,
            &member,
            &format!("/unions/{b}/applications"),
            &json!({"kind": "transfer", "note": "调动"}),
        )
        .await;
    assert_eq!(filed.status(), 201);
    let filed: Value = filed.json().await.unwrap();
    assert_eq!(
        (filed["kind"].as_str(), filed["from_union_id"].as_i64()),
        (Some("transfer"), Some(a))
    );
    let id = filed["id"].as_i64().unwrap();
    for (console, topic) in [
        (&mut console_a, &a_topics[1]),
        (&mut console_b, &b_topics[1]),
    ] {
        let created = console.event_of(topic, kind::APPLICATION_CREATED).await;
        assert_eq!(created.data["application"]["id"], id);
    }
    mini.event_of(&me_topic, kind::APPLICATION_CREATED).await;
    assert_eq!(
        b_subs[1].snapshot.as_ref().unwrap()["pending"],
        json!([]),
        "the queue was empty before"
    );

    // The union left behind sees the transfer but may not decide it.
    let refused = cluster
        .post(
            0,
            &admin_a,
            &format!("/applications/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    let approved = cluster
        .post(
            0,
            &admin_b,
            &format!("/applications/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(approved.status(), 200, "{}", approved.text().await.unwrap());

    let mut kinds = Vec::new();
    for _ in 0..4 {
        let e = mini.next_event().await;
        assert_eq!(e.topic, me_topic);
        kinds.push(e.kind.clone());
        match e.kind.as_str() {
            kind::MEMBERSHIP_ENDED => {
                assert_eq!(e.data["membership"]["union_id"], a);
                assert_eq!(e.data["membership"]["status"], "left");
            }
            kind::MEMBERSHIP_CREATED => assert_eq!(e.data["membership"]["union_id"], b),
            kind::NOTIFICATION_CREATED => {
                assert_eq!(e.data["notification"]["kind"], "transfer.approved");
                assert_eq!(e.data["notification"]["body"], "您已成为乙公司工会的会员。");
                assert_eq!(e.data["unread"], 2, "the join and the transfer");
            }
            _ => {}
        }
    }
    assert_eq!(
        kinds,
        [
            kind::APPLICATION_APPROVED,
            kind::MEMBERSHIP_ENDED,
            kind::MEMBERSHIP_CREATED,
            kind::NOTIFICATION_CREATED
        ]
    );
    let left = console_a.event_of(&a_topics[0], kind::MEMBER_LEFT).await;
    assert_eq!(left.data["membership"]["user_id"], member_id);
    console_a
        .event_of(&a_topics[1], kind::APPLICATION_APPROVED)
        .await;
    let joined = console_b.event_of(&b_topics[0], kind::MEMBER_JOINED).await;
    assert_eq!(joined.data["membership"]["user_id"], member_id);
    console_b
        .event_of(&b_topics[1], kind::APPLICATION_APPROVED)
        .await;

    let me: Value = cluster.get(1, &member, "/me").await.json().await.unwrap();
    let memberships = me["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1, "{me}");
    assert_eq!(
        (
            memberships[0]["union_id"].as_i64(),
            memberships[0]["status"].as_str()
        ),
        (Some(b), Some("active"))
    );
    let current = cluster
        .count(
            "SELECT count(*) FROM memberships WHERE user_id = $1 AND status <> 'left'",
            &[&member_id],
        )
        .await;
    assert_eq!(current, 1);
}

#[actix_rt::test]
async fn racing_decisions_on_a_transfer_leave_exactly_one_membership() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲").await;
    let b = cluster.child_union(cluster.root_union, "乙").await;
    let (other, other_id) = cluster.login_sms(1, "13900000103", "console").await;
    cluster.appoint(b, other_id, &["members.review"]).await;
    for round in 0..4u32 {
        let (member, member_id) = cluster
            .verified_user(0, &format!("1380000{:04}", 200 + round), "app", 200 + round)
            .await;
        cluster.admit(&root, &member, a).await;
        let filed = cluster
            .post(
                0,
                &member,
                &format!("/unions/{b}/applications"),
                &json!({"kind": "transfer"}),
            )
            .await;
        let id = filed.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let (approve, empty) = (format!("/applications/{id}/approve"), json!({}));
        let (x, y) = tokio::join!(
            cluster.post(0, &root, &approve, &empty),
            cluster.post(1, &other, &approve, &empty)
        );
        let mut statuses = [x.status().as_u16(), y.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}");
        let in_b = cluster
            .count("SELECT count(*) FROM memberships WHERE user_id = $1 AND status = 'active' AND union_id = $2", &[&member_id, &b])
            .await;
        let current = cluster
            .count(
                "SELECT count(*) FROM memberships WHERE user_id = $1 AND status <> 'left'",
                &[&member_id],
            )
            .await;
        assert_eq!((in_b, current), (1, 1), "round {round}");
    }
}

#[actix_rt::test]
async fn a_transfer_to_a_missing_union_or_ones_own_or_without_a_membership_is_refused_and_changes_nothing(
) {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲").await;
    let (member, _) = cluster.verified_user(0, "13800000301", "app", 301).await;
    let (loner, _) = cluster.verified_user(0, "13800000302", "app", 302).await;
    cluster.admit(&root, &member, a).await;
    let before = cluster
        .count("SELECT count(*) FROM applications", &[])
        .await;
    let transfer = json!({"kind": "transfer"});
    for (token, union, status, says) in [
        (&member, 999_999, 404, "no union"),
        (&member, a, 409, "already a member of this union"),
        (&loner, a, 409, "not a member of any union"),
    ] {
        let r = cluster
            .post(
                0,
                token,
                &format!("/unions/{union}/applications"),
                &transfer,
            )
            .await;
        assert_eq!(r.status(), status);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    let bad_kind = cluster
        .post(
            0,
            &member,
            &format!("/unions/{a}/applications"),
            &json!({"kind": "move"}),
        )
        .await;
    assert_eq!(bad_kind.status(), 422);
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM applications", &[])
            .await,
        before
    );
}
