//! What one socket, one user or a crowd of connections can make a node do is bounded:
//! a frame flood is refused and closed with 4029 while others are served, subscriptions
//! and waiting checks are capped, a user's sockets are capped per client kind, the node
//! refuses sockets before it runs out of files, and a client's close is echoed.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use gonghui_protocol::{encode, ClientKind, ClientMsg, Codec, RequestId, ServerMsg, WireFrame};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use tokio::io::AsyncWriteExt;

use crate::helpers::{pg_base, raw, Cluster, Ended, WsClient};

fn frame(codec: Codec, msg: &ClientMsg) -> Message {
    match encode(codec, msg).unwrap() {
        WireFrame::Binary(b) => Message::Binary(b.to_vec()),
        WireFrame::Text(t) => Message::Text(t),
    }
}

#[actix_rt::test]
async fn a_subscribe_flood_is_refused_and_closed_while_other_users_are_served() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    let (other, _) = cluster.login_sms(0, "13855610001", "app").await;
    let mut flooder = cluster.ws(0, Codec::Json).await;
    flooder.hello(&root, ClientKind::Console).await;
    let topic = format!("union:{}", cluster.root_union);
    let frames: Vec<_> = (0..20_000)
        .map(|n| {
            let msg = ClientMsg::Subscribe {
                id: RequestId::Int(n),
                topic: topic.clone(),
                since: None,
            };
            frame(Codec::Json, &msg)
        })
        .collect();
    let started = Instant::now();
    let mut stream = futures_util::stream::iter(frames).map(Ok);
    let flood = async {
        let _ = flooder.stream.send_all(&mut stream).await;
    };
    let me = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = Instant::now();
        let r = cluster.get(0, &other, "/me").await;
        (r.status(), asked.elapsed())
    };
    let ((), (status, took)) = futures_util::join!(flood, me);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "GET /me took {took:?}");
    let (ended, _) = flooder.until_closed().await;
    assert_eq!(ended, Ended::Closed(gonghui_protocol::close::TOO_MANY));
    println!("flood sent and closed in {:?}", started.elapsed());
    let readyz = cluster
        .http
        .get(format!("{}/readyz", cluster.nodes[0].http));
    assert_eq!(readyz.send().await.unwrap().status(), 200);
}

#[actix_rt::test]
async fn subscribes_wait_their_turn_and_a_socket_holds_at_most_256_topics() {
    let cluster = Cluster::start(1).await;
    let root = cluster.root_admin_token().await;
    cluster
        .db
        .execute(
            "INSERT INTO unions (id, parent_id, name, path)
             SELECT n.id, $1, '分会' || n.id, ARRAY[$1, n.id]
             FROM (SELECT nextval('unions_id_seq') AS id FROM generate_series(1, 300)) n",
            &[&cluster.root_union],
        )
        .await
        .unwrap();
    let ids: Vec<i64> = cluster
        .db
        .query(
            "SELECT id FROM unions WHERE parent_id IS NOT NULL ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut socket = cluster.ws(0, Codec::MsgPack).await;
    socket.hello(&root, ClientKind::Console).await;

    // Forty at once: one is checked while up to 32 wait; the rest are refused straight
    // away (a check finishing meanwhile may make room for one more).
    for (n, id) in ids[..40].iter().enumerate() {
        let msg = ClientMsg::Subscribe {
            id: RequestId::Int(1000 + n as i64),
            topic: format!("union:{id}"),
            since: None,
        };
        socket
            .stream
            .send(frame(Codec::MsgPack, &msg))
            .await
            .unwrap();
    }
    let (mut subscribed, mut waited_out) = (0, 0);
    while subscribed + waited_out < 40 {
        match socket.recv().await {
            ServerMsg::Reply { ok: true, .. } => subscribed += 1,
            ServerMsg::Reply { error: Some(e), .. } => {
                assert_eq!(e.code, "rate_limited", "{e:?}");
                waited_out += 1;
            }
            _ => {}
        }
    }
    assert!(
        subscribed >= 33 && waited_out >= 1,
        "{subscribed} + {waited_out}"
    );

    let mut unused = ids[40..].iter();
    for _ in subscribed..256 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let id = unused.next().unwrap();
        socket
            .subscribe(&format!("union:{id}"), None)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let next = unused.next().unwrap();
    let over = socket
        .subscribe(&format!("union:{next}"), None)
        .await
        .unwrap_err();
    assert_eq!(over.code, "too_large");
    let again = socket.subscribe(&format!("union:{}", ids[0]), None).await;
    assert!(
        again.is_ok(),
        "a topic already held may be subscribed again"
    );
}

#[actix_rt::test]
async fn a_user_holds_a_bounded_number_of_sockets_per_client_kind() {
    let cluster = Cluster::start_with(1, &pg_base(), |s| s.sockets_per_user = Some(2)).await;
    let (app, _) = cluster.login_sms(0, "13855610002", "app").await;
    let console = cluster.second_device("13855610002", 0, "console").await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut socket = cluster.ws(0, Codec::Json).await;
        socket.hello(&app, ClientKind::App).await;
        held.push(socket);
    }
    let mut third = cluster.ws(0, Codec::Json).await;
    let token = app.clone();
    third
        .send(&ClientMsg::Hello {
            id: RequestId::Int(1),
            token,
            client: ClientKind::App,
        })
        .await;
    assert_eq!(
        third.until_closed().await.0,
        Ended::Closed(gonghui_protocol::close::TOO_MANY)
    );
    let mut on_console = cluster.ws(0, Codec::Json).await;
    on_console.hello(&console, ClientKind::Console).await;
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut after = cluster.ws(0, Codec::Json).await;
    after.hello(&app, ClientKind::App).await;
}

#[actix_rt::test]
async fn a_full_node_refuses_new_sockets_and_keeps_serving_the_rest() {
    let cluster = Cluster::start_with(1, &pg_base(), |s| s.max_sockets = Some(3)).await;
    let (token, _) = cluster.login_sms(0, "13855610003", "app").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut socket = cluster.ws(0, Codec::Json).await;
        socket.hello(&token, ClientKind::App).await;
        held.push(socket);
    }
    let refused = tokio_tungstenite::connect_async(cluster.nodes[0].ws.as_str()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    let health = cluster
        .http
        .get(format!("{}/healthz", cluster.nodes[0].http));
    assert_eq!(health.send().await.unwrap().status(), 200);
    let pong = held[0].request(|id| ClientMsg::Ping { id }).await;
    assert!(pong.is_ok());
}

#[actix_rt::test]
async fn a_clients_close_is_echoed_with_its_code() {
    let cluster = Cluster::start(1).await;
    let (token, _) = cluster.login_sms(0, "13855610004", "app").await;
    let mut socket: WsClient = cluster.ws(0, Codec::MsgPack).await;
    socket.hello(&token, ClientKind::App).await;
    socket
        .stream
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = socket.stream.next().await {
            if let Ok(Message::Close(close)) = frame {
                return close.map(|c| u16::from(c.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(echoed, Some(1000));
}

#[actix_rt::test]
async fn a_frame_declaring_more_than_64_kib_closes_an_anonymous_socket_with_1009_at_its_header() {
    let cluster = Cluster::start(1).await;
    let mut socket = raw::open(&cluster.nodes[0].http).await.unwrap();
    // A gibibyte declared, 64 KiB sent: the close must come without the rest.
    socket.write_all(&raw::header(0x82, 1 << 30)).await.unwrap();
    let _ = socket.write_all(&vec![0u8; 64 * 1024]).await;
    assert_eq!(
        raw::close_code(&mut socket, Duration::from_secs(3)).await,
        Some(gonghui_protocol::close::TOO_LARGE)
    );
}

#[actix_rt::test]
async fn the_fragments_of_one_message_count_together_against_64_kib() {
    let cluster = Cluster::start(1).await;
    let mut socket = raw::open(&cluster.nodes[0].http).await.unwrap();
    let piece = vec![b'x'; 40 * 1024];
    // A text message begun (FIN clear), then continued: 80 KiB in all, each under 64.
    socket.write_all(&raw::frame(0x01, &piece)).await.unwrap();
    let _ = socket.write_all(&raw::frame(0x00, &piece)).await;
    assert_eq!(
        raw::close_code(&mut socket, Duration::from_secs(3)).await,
        Some(gonghui_protocol::close::TOO_LARGE)
    );
}

#[actix_rt::test]
async fn an_address_holds_only_so_many_sockets_before_hello_and_gets_them_back_at_hello() {
    let cluster =
        Cluster::start_with(1, &pg_base(), |s| s.anonymous_sockets_per_address = Some(3)).await;
    let (token, _) = cluster.login_sms(0, "13855610021", "app").await;
    let http = &cluster.nodes[0].http;
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(raw::open(http).await.unwrap());
    }
    let mut greeter = WsClient::connect(&cluster.nodes[0].ws, Codec::Json).await;
    let refused = raw::open(http).await.unwrap_err();
    assert!(refused.starts_with("http/1.1 429"), "{refused}");
    assert!(refused.contains("retry-after: 1"), "{refused}");
    // Once one of them is known, its place is free for the next.
    greeter.hello(&token, ClientKind::App).await;
    let next = raw::open(http).await;
    assert!(next.is_ok(), "a place is given back at hello");
    drop(silent);
    drop(next);
    // And closed sockets give theirs back as they end.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut opened = Vec::new();
    while opened.len() < 3 && Instant::now() < deadline {
        match raw::open(http).await {
            Ok(socket) => opened.push(socket),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(opened.len(), 3, "every place came back");
}
