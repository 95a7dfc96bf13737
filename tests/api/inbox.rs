//! The member inbox: notifications, announcements, and read state on every device.

use std::time::{Duration, Instant};

use gonghui_protocol::events::kind;
use gonghui_protocol::{ClientKind, Codec};
use serde_json::{json, Value};

use crate::helpers::Cluster;

#[actix_rt::test]
async fn reading_on_the_app_clears_the_badge_on_the_miniprogram_within_the_same_second() {
    let cluster = Cluster::start(2).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (app_token, member) = cluster.verified_user(0, "13800000401", "app", 401).await;
    cluster.admit(&root, &app_token, union).await;
    let mini_token = cluster.second_device("13800000401", 1, "miniprogram").await;

    let me_topic = format!("member:{member}");
    let union_topic = format!("union:{union}");
    let mut app = cluster.ws(0, Codec::MsgPack).await;
    let subs = app.watch(&app_token, ClientKind::App, &[&me_topic]).await;
    assert_eq!(
        subs[0].snapshot.as_ref().unwrap()["unread"],
        1,
        "the approval notice"
    );
    let mut mini = cluster.ws(1, Codec::Json).await;
    mini.watch(
        &mini_token,
        ClientKind::Miniprogram,
        &[me_topic.clone(), union_topic.clone()],
    )
    .await;

    // An announcement to the union is one row and one event on the union's topic.
    let sent = cluster
        .post(
            0,
            &root,
            &format!("/unions/{union}/announcements"),
            &json!({"title": "通知", "body": "周五开会"}),
        )
        .await;
    assert_eq!(sent.status(), 201, "{}", sent.text().await.unwrap());
    let announced = mini
        .event_of(&union_topic, kind::NOTIFICATION_CREATED)
        .await;
    assert_eq!(announced.data["notification"]["kind"], "announcement");
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM notifications WHERE union_id = $1",
                &[&union]
            )
            .await,
        1
    );

    let inbox: Value = cluster
        .get(0, &app_token, "/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["unread"], 2, "{inbox}");
    let items = inbox["items"].as_array().unwrap();
    assert_eq!(items[0]["kind"], "announcement", "newest first");
    assert_eq!(items[1]["kind"], kind::APPLICATION_APPROVED);
    let first = items[1]["id"].as_i64().unwrap();

    // Read one on the app: the mini-program's badge follows at once.
    let started = Instant::now();
    let read = cluster
        .post(
            0,
            &app_token,
            "/me/notifications/read",
            &json!({"ids": [first]}),
        )
        .await;
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.json::<Value>().await.unwrap(),
        json!({"ids": [first], "unread": 1})
    );
    let seen = mini.event_of(&me_topic, kind::NOTIFICATION_READ).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.data, json!({"ids": [first], "unread": 1}));
    app.event_of(&me_topic, kind::NOTIFICATION_READ).await;

    // Reading it again changes nothing and sends nothing; "all" clears the rest.
    let again: Value = cluster
        .post(
            0,
            &app_token,
            "/me/notifications/read",
            &json!({"ids": [first]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!({"ids": [], "unread": 1}));
    let all: Value = cluster
        .post(
            1,
            &mini_token,
            "/me/notifications/read",
            &json!({"all": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["unread"], 0);
    let cleared = app.event_of(&me_topic, kind::NOTIFICATION_READ).await;
    assert_eq!(cleared.data["unread"], 0);
    let resubscribed = cluster
        .ws(0, Codec::Json)
        .await
        .watch(&app_token, ClientKind::App, &[me_topic])
        .await;
    assert_eq!(resubscribed[0].snapshot.as_ref().unwrap()["unread"], 0);
}

#[actix_rt::test]
async fn inbox_pages_by_id_and_refuses_foreign_ids_and_bad_reads() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let (member, _) = cluster.verified_user(0, "13800000402", "app", 402).await;
    let (stranger, _) = cluster.login_sms(0, "13800000403", "app").await;
    cluster.admit(&root, &member, union).await;
    for n in 0..3 {
        let r = cluster
            .post(
                0,
                &root,
                &format!("/unions/{union}/announcements"),
                &json!({"title": format!("第{n}条"), "body": "内容"}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let page: Value = cluster
        .get(0, &member, "/me/notifications?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_i64().expect("a next page");
    let rest: Value = cluster
        .get(
            0,
            &member,
            &format!("/me/notifications?limit=2&before={before}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["items"].as_array().unwrap().len(),
        2,
        "an announcement and the approval"
    );
    assert_eq!(rest["next_before"], Value::Null);
    let mine = page["items"][0]["id"].as_i64().unwrap();

    // The stranger is no member: the union's announcements are not theirs to read.
    let foreign = cluster
        .post(
            0,
            &stranger,
            "/me/notifications/read",
            &json!({"ids": [mine]}),
        )
        .await;
    assert_eq!(foreign.status(), 404);
    let empty: Value = cluster
        .get(0, &stranger, "/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["items"], json!([]));
    for bad in [
        json!({}),
        json!({"ids": [mine], "all": true}),
        json!({"ids": []}),
    ] {
        assert_eq!(
            cluster
                .post(0, &member, "/me/notifications/read", &bad)
                .await
                .status(),
            422,
            "{bad}"
        );
    }
    assert_eq!(
        cluster
            .get(0, &member, "/me/notifications?limit=0")
            .await
            .status(),
        422
    );
    let not_admin = cluster
        .post(
            0,
            &member,
            &format!("/unions/{union}/announcements"),
            &json!({"title": "x", "body": "y"}),
        )
        .await;
    assert_eq!(not_admin.status(), 403);
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM notification_reads", &[])
            .await,
        0
    );
}
