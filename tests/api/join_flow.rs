use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::Value;

use crate::helpers::Cluster;

#[actix_rt::test]
async fn an_application_on_one_node_reaches_admins_and_every_device_of_the_member_on_another() {
    let cluster = Cluster::start(2).await;
    let union = cluster.root_union;

    // The admin watches the approval queue on the console, connected to node A.
    let admin_token = cluster.root_admin_token().await;
    let mut console = cluster.ws(0, Codec::Json).await;
    let hello = console.hello(&admin_token, ClientKind::Console).await;
    assert!(
        hello.topics.contains(&format!("union:{union}:admin")),
        "{:?}",
        hello.topics
    );
    let queue = console
        .subscribe(&format!("union:{union}:admin"), None)
        .await
        .unwrap();
    assert_eq!(queue.snapshot.unwrap()["pending"], serde_json::json!([]));

    // The member is verified and signed in on the app (node A) and the mini-program (node B).
    let (app_token, member) = cluster.verified_user(1, "13812345678", "app", 1).await;
    let mini_token = cluster.second_device("13812345678", 1, "miniprogram").await;
    let mut app = cluster.ws(0, Codec::MsgPack).await;
    app.hello(&app_token, ClientKind::App).await;
    let mut mini = cluster.ws(1, Codec::Json).await;
    mini.hello(&mini_token, ClientKind::Miniprogram).await;
    let topic = format!("member:{member}");
    let app_sub = app.subscribe(&topic, None).await.unwrap();
    let mini_sub = mini.subscribe(&topic, None).await.unwrap();
    assert_eq!(app_sub.seq, mini_sub.seq);
    let masked = format!("4401**********{}", &crate::helpers::id_number(1)[14..]);
    assert_eq!(
        app_sub.snapshot.as_ref().unwrap()["user"]["id_number_masked"],
        masked.as_str()
    );

    // The application goes to node B; the admin on node A sees it.
    let application = cluster.apply(1, &mini_token, union, "请批准").await;
    let created = console
        .event_of(&format!("union:{union}:admin"), kind::APPLICATION_CREATED)
        .await;
    assert_eq!(created.seq, queue.seq + 1);
    assert_eq!(created.data["application"]["id"], application);
    assert_eq!(
        created.data["application"]["applicant"]["phone_masked"],
        "138****5678"
    );
    for device in [&mut app, &mut mini] {
        let e = device.event_of(&topic, kind::APPLICATION_CREATED).await;
        assert_eq!(e.seq, app_sub.seq + 1);
    }
    let listed: Value = cluster
        .get(
            0,
            &admin_token,
            &format!("/unions/{union}/applications?status=pending"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], application);

    // The admin approves on node A; both devices see it, in order, with the membership.
    let approved = cluster
        .post(
            0,
            &admin_token,
            &format!("/applications/{application}/approve"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(approved.status(), 200);
    for device in [&mut app, &mut mini] {
        let decided = device.next_event().await;
        assert_eq!(
            (decided.kind.as_str(), decided.seq),
            (kind::APPLICATION_APPROVED, app_sub.seq + 2)
        );
        let joined = device.next_event().await;
        assert_eq!(
            (joined.kind.as_str(), joined.seq),
            (kind::MEMBERSHIP_CREATED, app_sub.seq + 3)
        );
        assert_eq!(joined.data["membership"]["union_id"], union);
    }
    let decided = console
        .event_of(&format!("union:{union}:admin"), kind::APPLICATION_APPROVED)
        .await;
    assert_eq!(
        decided.data["application"]["decided_by"],
        cluster.root_admin
    );

    let me: Value = cluster
        .get(1, &mini_token, "/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["memberships"][0]["union_id"], union);
    assert_eq!(me["memberships"][0]["status"], "active");
    assert_eq!(me["user"]["verified"], true);
    let audit: i64 = cluster
        .db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'application.approve'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit, 1);
}

#[actix_rt::test]
async fn logout_closes_that_tokens_sockets_on_every_node_with_4001() {
    let cluster = Cluster::start(2).await;
    let (token, member) = cluster.login_sms(0, "13700000001", "app").await;
    let mut on_a = cluster.ws(0, Codec::Json).await;
    on_a.hello(&token, ClientKind::App).await;
    let mut on_b = cluster.ws(1, Codec::MsgPack).await;
    on_b.hello(&token, ClientKind::App).await;
    on_b.subscribe(&format!("member:{member}"), None)
        .await
        .unwrap();

    assert_eq!(
        cluster
            .post(1, &token, "/auth/logout", &serde_json::json!({}))
            .await
            .status(),
        204
    );
    assert_eq!(
        cluster.get(1, &token, "/me").await.status(),
        401,
        "the node that logged out knows at once, before any announcement"
    );
    assert_eq!(
        on_a.until_closed().await.0,
        crate::helpers::Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );
    assert_eq!(
        on_b.until_closed().await.0,
        crate::helpers::Ended::Closed(gonghui_protocol::close::UNAUTHENTICATED)
    );
    assert_eq!(cluster.get(0, &token, "/me").await.status(), 401);
}

#[actix_rt::test]
async fn a_node_shutting_down_closes_its_sessions_with_1012() {
    let cluster = Cluster::start(1).await;
    let (token, _) = cluster.login_sms(0, "13700000002", "app").await;
    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&token, ClientKind::App).await;
    cluster.nodes[0].stopper.stop().await;
    assert_eq!(
        socket.until_closed().await.0,
        crate::helpers::Ended::Closed(gonghui_protocol::close::RESTARTING)
    );
}

#[actix_rt::test]
async fn an_idempotency_key_replays_the_first_answer_and_changes_nothing_again() {
    let cluster = Cluster::start(1).await;
    let (token, user) = cluster.verified_user(0, "13700000003", "app", 3).await;
    let send = |key: &'static str| {
        cluster
            .http
            .post(cluster.url(0, &format!("/unions/{}/applications", cluster.root_union)))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({"kind": "join"}))
            .send()
    };
    let first = send("k-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("k-1").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(
        send("k-2").await.unwrap().status(),
        409,
        "a new key runs the call again and meets the pending one"
    );
    let reused = cluster
        .http
        .get(cluster.url(0, "/me"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k-1")
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 200, "reads ignore the header");
    let count: i64 = cluster
        .db
        .query_one(
            "SELECT count(*) FROM applications WHERE user_id = $1",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}

#[actix_rt::test]
async fn a_subscribe_sent_right_behind_hello_waits_for_it() {
    let cluster = Cluster::start(1).await;
    let (token, member) = cluster.login_sms(0, "13700000004", "app").await;
    let mut socket = cluster.ws(0, Codec::MsgPack).await;
    use gonghui_protocol::{ClientMsg, RequestId, ServerMsg};
    socket
        .send(&ClientMsg::Hello {
            id: RequestId::Int(1),
            token,
            client: ClientKind::App,
        })
        .await;
    socket
        .send(&ClientMsg::Subscribe {
            id: RequestId::Int(2),
            topic: format!("member:{member}"),
            since: None,
        })
        .await;
    for expected in [1, 2] {
        match socket.recv().await {
            ServerMsg::Reply { id, ok: true, .. } => assert_eq!(id, RequestId::Int(expected)),
            other => panic!("expected reply {expected}, got {other:?}"),
        }
    }
}

#[actix_rt::test]
async fn approving_a_join_once_the_applicant_belongs_elsewhere_is_refused_and_writes_nothing() {
    let cluster = Cluster::start(1).await;
    let other = cluster.child_union(cluster.root_union, "第二工会").await;
    let (token, user) = cluster.verified_user(0, "13700000009", "app", 9).await;
    let first = cluster.apply(0, &token, cluster.root_union, "甲").await;
    let second = cluster.apply(0, &token, other, "乙").await;
    let root = cluster.root_admin_token().await;
    let approve = |id: i64| {
        let (cluster, root) = (&cluster, &root);
        async move {
            cluster
                .post(
                    0,
                    root,
                    &format!("/applications/{id}/approve"),
                    &serde_json::json!({}),
                )
                .await
        }
    };
    assert_eq!(approve(first).await.status(), 200);

    let refused = approve(second).await;
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("meanwhile become a member"),
        "{body}"
    );
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM notifications WHERE user_id = $1",
                &[&user]
            )
            .await,
        1,
        "only the first decision told the applicant"
    );
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM audit_log WHERE subject_type = 'application' AND subject_id = $1",
                &[&second]
            )
            .await,
        0
    );
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM applications WHERE id = $1 AND status = 'pending'",
                &[&second]
            )
            .await,
        1,
        "the refused decision left its application pending"
    );
}
