use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::json;

use crate::helpers::Cluster;

#[actix_rt::test]
async fn a_member_can_neither_list_nor_subscribe_to_an_admin_queue_or_another_members_topic() {
    let cluster = Cluster::start(1).await;
    let union = cluster.root_union;
    let (token, me) = cluster.verified_user(0, "13833330000", "app", 33).await;
    let (_, other) = cluster.login_sms(0, "13833330001", "app").await;

    let listed = cluster
        .get(
            0,
            &token,
            &format!("/unions/{union}/applications?status=pending"),
        )
        .await;
    assert_eq!(listed.status(), 403);
    assert_eq!(
        listed.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "forbidden"
    );

    let mut socket = cluster.ws(0, Codec::MsgPack).await;
    let hello = socket.hello(&token, ClientKind::App).await;
    assert_eq!(hello.topics, vec![format!("member:{me}")]);
    for topic in [
        format!("union:{union}:admin"),
        format!("member:{other}"),
        format!("union:{union}"),
    ] {
        let refused = socket.subscribe(&topic, None).await.unwrap_err();
        assert_eq!(refused.code, "forbidden", "{topic}");
    }
    socket
        .subscribe(&format!("member:{me}"), None)
        .await
        .expect("its own topic");
}

#[actix_rt::test]
async fn a_child_unions_admin_cannot_decide_the_parents_applications_but_the_parents_admin_can_decide_the_childs(
) {
    let cluster = Cluster::start(1).await;
    let parent = cluster.root_union;
    let child = cluster.child_union(parent, "广州市总工会").await;
    let sibling = cluster.child_union(parent, "深圳市总工会").await;
    let parent_admin = cluster.root_admin_token().await;
    let (child_admin, child_admin_id) = cluster.login_sms(0, "13944440000", "console").await;
    cluster
        .appoint(child, child_admin_id, &["members.review"])
        .await;

    let (a, _) = cluster.verified_user(0, "13844440001", "app", 41).await;
    let (b, _) = cluster.verified_user(0, "13844440002", "app", 42).await;
    let (c, _) = cluster.verified_user(0, "13844440003", "app", 43).await;
    let to_parent = cluster.apply(0, &a, parent, "parent").await;
    let to_child = cluster.apply(0, &b, child, "child").await;
    let to_sibling = cluster.apply(0, &c, sibling, "sibling").await;

    let up = cluster
        .post(
            0,
            &child_admin,
            &format!("/applications/{to_parent}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(up.status(), 403);
    let beside = cluster
        .post(
            0,
            &child_admin,
            &format!("/applications/{to_sibling}/reject"),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(beside.status(), 403);
    assert_eq!(
        cluster
            .get(0, &child_admin, &format!("/unions/{parent}/applications"))
            .await
            .status(),
        403
    );
    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&child_admin, ClientKind::Console).await;
    assert_eq!(
        socket
            .subscribe(&format!("union:{parent}:admin"), None)
            .await
            .unwrap_err()
            .code,
        "forbidden"
    );
    let own = socket
        .subscribe(&format!("union:{child}:admin"), None)
        .await
        .unwrap();
    assert_eq!(own.snapshot.unwrap()["pending"][0]["id"], to_child);

    let down = cluster
        .post(
            0,
            &parent_admin,
            &format!("/applications/{to_child}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(down.status(), 200);
    assert_eq!(
        socket
            .event_of(&format!("union:{child}:admin"), kind::APPLICATION_APPROVED)
            .await
            .data["application"]["id"],
        to_child
    );
    let pending: String = cluster
        .db
        .query_one(
            "SELECT status FROM applications WHERE id = $1",
            &[&to_parent],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, "pending", "the refused decision changed nothing");
}

#[actix_rt::test]
async fn import_and_removal_reports_tell_a_sibling_admin_nothing_about_strangers() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let a = cluster.child_union(cluster.root_union, "甲厂").await;
    let b = cluster.child_union(cluster.root_union, "乙厂").await;
    let (stranger, stranger_id) = cluster.verified_user(0, "13833340001", "app", 3401).await;
    cluster.admit(&root, &stranger, a).await;
    let (sibling, sibling_id) = cluster.login_sms(0, "13833340002", "console").await;
    cluster.appoint(b, sibling_id, &["members.manage"]).await;
    let stranger_id_number = crate::helpers::id_number(3401);
    let unregistered = crate::helpers::id_number(3499);

    // The stranger as they are, then their ID number with another phone.
    for phone in ["13833340001", "13833349999"] {
        let csv = format!("姓名,手机号,身份证号\n某人,{phone},{stranger_id_number}\n");
        let r = cluster
            .upload(
                &sibling,
                &format!("/unions/{b}/members/import"),
                "text/csv",
                csv.into_bytes(),
            )
            .await;
        assert_eq!(r.status(), 200);
        let report: serde_json::Value = r.json().await.unwrap();
        let row = &report["rows"][0];
        assert_eq!(row["outcome"], "failed", "{row}");
        assert!(row["user_id"].is_null(), "{row}");
        let reason = row["reason"].as_str().unwrap();
        assert!(reason.starts_with("cannot be added"), "{reason}");
        assert!(
            !reason.contains('*') && !reason.contains(&a.to_string()),
            "{reason}"
        );
    }

    let removal = json!({"reason": "离职", "id_numbers": [stranger_id_number, unregistered]});
    let r = cluster
        .post(
            0,
            &sibling,
            &format!("/unions/{b}/members/remove"),
            &removal,
        )
        .await;
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(
        rows[0]["reason"], rows[1]["reason"],
        "a stranger reads like nobody"
    );
    assert!(rows.iter().all(|r| r["user_id"].is_null()), "{rows:?}");
    assert!(!report.to_string().contains(&format!(":{stranger_id}")));
    let still = cluster
        .count(
            "SELECT count(*) FROM memberships WHERE union_id = $1 AND status = 'active'",
            &[&a],
        )
        .await;
    assert_eq!(still, 1);
}
