use std::time::Duration;

use gonghui_protocol::events::kind;
use gonghui_protocol::{close, ClientKind, ClientMsg, Codec, RequestId};
use serde_json::{json, Value};

use crate::helpers::{json_of, Cluster, Ended};

#[actix_rt::test]
async fn a_client_resuming_on_the_other_node_gets_exactly_the_missed_events_in_order() {
    let cluster = Cluster::start(2).await;
    let admin = cluster.root_admin_token().await;
    let (token, member) = cluster.verified_user(0, "13811110000", "app", 11).await;
    let topic = format!("member:{member}");

    let mut socket = cluster.ws(0, Codec::MsgPack).await;
    socket.hello(&token, ClientKind::App).await;
    let first = socket.subscribe(&topic, None).await.unwrap();
    let application = cluster.apply(0, &token, cluster.root_union, "one").await;
    let seen = socket.event_of(&topic, kind::APPLICATION_CREATED).await;
    assert_eq!(seen.seq, first.seq + 1);
    drop(socket);

    // While it is away: a rejection and its notice, a new application, an approval, the
    // membership and its notice (6 events on its topic).
    let reject = cluster
        .post(
            1,
            &admin,
            &format!("/applications/{application}/reject"),
            &json!({"reason": "资料不全"}),
        )
        .await;
    assert_eq!(reject.status(), 200);
    let second = cluster.apply(1, &token, cluster.root_union, "two").await;
    assert_eq!(
        cluster
            .post(
                0,
                &admin,
                &format!("/applications/{second}/approve"),
                &json!({})
            )
            .await
            .status(),
        200
    );

    let mut back = cluster.ws(1, Codec::Json).await;
    back.hello(&token, ClientKind::App).await;
    let resumed = back.subscribe(&topic, Some(seen.seq)).await.unwrap();
    assert!(!resumed.reset);
    assert!(resumed.snapshot.is_none());
    let mut kinds = Vec::new();
    for expected in seen.seq + 1..=seen.seq + 6 {
        let e = back.next_event().await;
        assert_eq!(e.seq, expected, "in order, none missing");
        kinds.push(e.kind);
    }
    assert_eq!(
        kinds,
        [
            kind::APPLICATION_REJECTED,
            kind::NOTIFICATION_CREATED,
            kind::APPLICATION_CREATED,
            kind::APPLICATION_APPROVED,
            kind::MEMBERSHIP_CREATED,
            kind::NOTIFICATION_CREATED
        ]
    );
    back.assert_quiet(Duration::from_millis(300)).await;

    // And live events follow on the same subscription, with the next seq.
    let verify = cluster
        .post(
            0,
            &token,
            "/me/verification",
            &json!({"name": "会员11", "id_number": crate::helpers::id_number(11)}),
        )
        .await;
    assert_eq!(verify.status(), 200, "the same number again is accepted");
    let again = cluster
        .post(
            0,
            &token,
            &format!("/unions/{}/applications", cluster.root_union),
            &json!({"kind": "join"}),
        )
        .await;
    assert_eq!(again.status(), 409, "already a member");
    back.assert_quiet(Duration::from_millis(300)).await;
}

#[actix_rt::test]
async fn events_committed_while_subscribing_are_neither_lost_nor_doubled() {
    let cluster = Cluster::start(2).await;
    let admin = cluster.root_admin_token().await;
    let union = cluster.root_union;
    let topic = format!("union:{union}:admin");
    let mut writers = Vec::new();
    for n in 0..12u32 {
        writers.push(
            cluster
                .verified_user(n as usize % 2, &format!("1360000{n:04}"), "app", 100 + n)
                .await
                .0,
        );
    }
    // Applications keep arriving on both nodes while clients subscribe at random moments.
    let applying = async {
        for (n, token) in writers.iter().enumerate() {
            cluster.apply(n % 2, token, union, "burst").await;
        }
    };
    let subscribing = async {
        let mut clients = Vec::new();
        for n in 0..6 {
            let mut c = cluster.ws(n % 2, Codec::Json).await;
            c.hello(&admin, ClientKind::Console).await;
            let reply = c.subscribe(&topic, None).await.unwrap();
            clients.push((c, reply));
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        clients
    };
    let ((), clients) = tokio::join!(applying, subscribing);
    for (mut client, reply) in clients {
        let pending = reply.snapshot.unwrap()["pending"].as_array().unwrap().len() as u64;
        assert_eq!(
            pending, reply.seq,
            "the snapshot reflects exactly the events up to its seq"
        );
        for expected in reply.seq + 1..=12 {
            assert_eq!(client.next_event().await.seq, expected);
        }
        client.assert_quiet(Duration::from_millis(200)).await;
    }
}

#[actix_rt::test]
async fn a_since_older_than_the_retained_log_gets_reset_and_a_fresh_snapshot() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.event_retention_secs = Some(1)
    })
    .await;
    let (token, member) = cluster.verified_user(0, "13822220000", "app", 22).await;
    cluster.apply(0, &token, cluster.root_union, "old").await;
    let topic = format!("member:{member}");
    cluster.logged().await;
    let head: i64 = cluster
        .db
        .query_one("SELECT head FROM topics WHERE topic = $1", &[&topic])
        .await
        .unwrap()
        .get(0);
    assert_eq!(head, 2);
    // Wait until the pruner has removed them.
    let mut left = 1;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = cluster
            .db
            .query_one("SELECT count(*) FROM events WHERE topic = $1", &[&topic])
            .await
            .unwrap()
            .get::<_, i64>(0);
        if left == 0 {
            break;
        }
    }
    assert_eq!(left, 0, "events past retention are pruned");

    let mut socket = cluster.ws(0, Codec::Json).await;
    socket.hello(&token, ClientKind::App).await;
    let reply = socket.subscribe(&topic, Some(0)).await.unwrap();
    assert!(reply.reset);
    assert_eq!(reply.seq, 2);
    let snapshot = reply.snapshot.unwrap();
    assert_eq!(snapshot["applications"].as_array().unwrap().len(), 1);
    assert_eq!(snapshot["user"]["verified"], true);
    let current = socket.subscribe(&topic, Some(2)).await.unwrap();
    assert!(!current.reset, "resuming at the head needs no log");
}

#[actix_rt::test]
async fn an_owner_stopped_for_idleness_comes_back_on_the_next_subscribe() {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.owner_idle_secs = Some(1)
    })
    .await;
    let admin = cluster.root_admin_token().await;
    let topic = format!("union:{}:admin", cluster.root_union);
    let (member, _) = cluster.verified_user(0, "13822220009", "app", 29).await;

    let mut first = cluster.ws(0, Codec::Json).await;
    first.hello(&admin, ClientKind::Console).await;
    let start = first.subscribe(&topic, None).await.unwrap().seq;
    let ready = format!("{}/readyz", cluster.nodes[0].http);
    assert_eq!(json_of(cluster.http.get(&ready)).await["owners"], 1);
    drop(first);
    // The owner is stopped after a second without subscribers; events meanwhile go nowhere.
    let mut owners = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        owners = json_of(cluster.http.get(&ready)).await["owners"].clone();
        if owners == 0 {
            break;
        }
    }
    assert_eq!(owners, 0, "the idle owner stopped");
    cluster
        .apply(0, &member, cluster.root_union, "while nobody listens")
        .await;

    let mut again = cluster.ws(0, Codec::MsgPack).await;
    again.hello(&admin, ClientKind::Console).await;
    again.subscribe(&topic, Some(start)).await.unwrap();
    assert_eq!(
        again.next_event().await.seq,
        start + 1,
        "missed while the owner was gone, read from the log"
    );
    assert_eq!(json_of(cluster.http.get(&ready)).await["owners"], 1);
    let (late, _) = cluster.verified_user(0, "13822220010", "app", 30).await;
    cluster
        .apply(0, &late, cluster.root_union, "live again")
        .await;
    assert_eq!(
        again.next_event().await.seq,
        start + 2,
        "and live events flow through the new owner"
    );
}

#[actix_rt::test]
async fn many_resuming_one_topic_at_once_each_get_exactly_the_missed_events_once() {
    let cluster = Cluster::start(2).await;
    let seeded = cluster.seed_members(40).await;
    let topic = format!("union:{}", seeded.union_id);
    for i in 0..7 {
        cluster.put_in_outbox(&topic, json!({ "n": i })).await;
    }
    cluster.logged().await;

    // Node 1 has no owner of the topic yet: every resume needs the log's bounds and a
    // catch-up read from the log, which the owner shares between them.
    let mut sockets = Vec::new();
    for member in &seeded.members {
        let mut socket = cluster.ws(1, Codec::Json).await;
        socket.hello(&seeded.token(*member), ClientKind::App).await;
        sockets.push(socket);
    }
    let replies = futures_util::future::join_all(
        sockets
            .iter_mut()
            .map(|socket| socket.subscribe(&topic, Some(2))),
    )
    .await;
    for (socket, reply) in sockets.iter_mut().zip(replies) {
        let reply = reply.unwrap();
        assert_eq!((reply.seq, reply.reset), (2, false));
        let mut got = Vec::new();
        for _ in 3..=7 {
            let e = socket.next_event().await;
            got.push((e.seq, e.data["n"].as_u64().unwrap()));
        }
        assert_eq!(got, [(3, 2), (4, 3), (5, 4), (6, 5), (7, 6)]);
    }
    for socket in &mut sockets {
        socket.assert_quiet(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn many_hellos_at_once_each_name_their_own_users_topics() {
    let cluster = Cluster::start(1).await;
    let seeded = cluster.seed_members(30).await;
    let other = cluster.child_union(cluster.root_union, "另一个工会").await;
    let review = cluster.child_union(cluster.root_union, "审核的工会").await;
    // A third stay plain members, a third also review `review`, a third also only
    // read it as admins without the right to review.
    let mut expected = Vec::new();
    for (i, member) in seeded.members.iter().enumerate() {
        let mut topics = vec![
            format!("member:{member}"),
            format!("union:{}", seeded.union_id),
        ];
        match i % 3 {
            1 => {
                cluster.appoint(review, *member, &["members.review"]).await;
                topics.push(format!("union:{review}"));
                topics.push(format!("union:{review}:admin"));
            }
            2 => {
                cluster.appoint(other, *member, &["news.publish"]).await;
                topics.push(format!("union:{other}"));
            }
            _ => {}
        }
        expected.push(topics);
    }
    let mut sockets = Vec::new();
    for _ in &seeded.members {
        sockets.push(cluster.ws(0, Codec::MsgPack).await);
    }
    // Tokens that do not qualify, checked in the same groups, are refused alone.
    let mut refused = Vec::new();
    for n in 0..3 {
        let mut socket = cluster.ws(0, Codec::MsgPack).await;
        socket
            .send(&ClientMsg::Hello {
                id: RequestId::Int(1),
                token: format!("not-a-token-{n}"),
                client: ClientKind::App,
            })
            .await;
        refused.push(socket);
    }
    let hellos = futures_util::future::join_all(
        sockets
            .iter_mut()
            .zip(&seeded.members)
            .map(|(socket, member)| socket.hello_owned(seeded.token(*member), ClientKind::App)),
    )
    .await;
    let named: Vec<Vec<String>> = hellos.into_iter().map(|h| h.topics).collect();
    assert_eq!(named, expected);
    for mut socket in refused {
        assert_eq!(
            socket.until_closed().await.0,
            Ended::Closed(close::UNAUTHENTICATED)
        );
    }
}

#[actix_rt::test]
async fn many_members_snapshots_at_once_each_show_their_own_member_at_their_seq() {
    let cluster = Cluster::start(1).await;
    let seeded = cluster.seed_members(30).await;
    // A third have an event still in the outbox: a snapshot must count it in its seq
    // (theirs are read again alone, after it is logged).
    let waiting: Vec<i64> = seeded.members.iter().copied().step_by(3).collect();
    for member in &waiting {
        cluster
            .put_in_outbox(
                &format!("member:{member}"),
                json!({ "ids": [1], "unread": 0 }),
            )
            .await;
    }
    let mut sockets = Vec::new();
    for member in &seeded.members {
        let mut socket = cluster.ws(0, Codec::MsgPack).await;
        socket
            .hello_owned(seeded.token(*member), ClientKind::App)
            .await;
        sockets.push(socket);
    }
    let replies = futures_util::future::join_all(sockets.iter_mut().zip(&seeded.members).map(
        |(socket, member)| async move {
            socket
                .subscribe(&format!("member:{member}"), None)
                .await
                .unwrap()
        },
    ))
    .await;
    for (member, reply) in seeded.members.iter().zip(replies) {
        let snapshot = reply.snapshot.expect("a snapshot");
        assert_eq!(
            snapshot["user"]["id"], *member,
            "member {member}'s own user"
        );
        assert_eq!(snapshot["memberships"][0]["union_id"], seeded.union_id);
        assert_eq!(snapshot["memberships"][0]["user_id"], *member);
        let seq = u64::from(waiting.contains(member));
        assert_eq!(
            reply.seq, seq,
            "member {member}'s snapshot counts what it shows"
        );
    }
}
