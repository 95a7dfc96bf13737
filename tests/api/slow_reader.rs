use std::time::Duration;

use gonghui_protocol::{ClientKind, Codec};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Cluster, Ended, WsClient};

/// A client whose socket barely buffers, so that not reading backs up to the server at once.
async fn slow_client(url: &str) -> WsClient {
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "gonghui.v1.json".parse().unwrap());
    let (stream, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    WsClient::from_stream(stream, Codec::Json)
}

/// A node with a small session queue and send buffer, its root admin's token, and the
/// admin queue topic.
async fn small_buffers() -> (Cluster, String, String) {
    let cluster = Cluster::start_with(1, &crate::helpers::pg_base(), |s| {
        s.session_queue = Some(8);
        s.socket_send_buffer = Some(16 * 1024);
    })
    .await;
    let admin = cluster.root_admin_token().await;
    let topic = format!("union:{}:admin", cluster.root_union);
    (cluster, admin, topic)
}

/// `rounds` apply/reject rounds, two events of ~2 KB each, `pause` after each.
async fn applications(cluster: &Cluster, admin: &str, rounds: u64, pause: Duration) {
    let (member, _) = cluster.verified_user(0, "13866660000", "app", 66).await;
    let note = "请".repeat(500);
    for _ in 0..rounds {
        let id = cluster.apply(0, &member, cluster.root_union, &note).await;
        let reject = format!("/applications/{id}/reject");
        assert_eq!(
            cluster
                .post(0, admin, &reject, &json!({"reason": "again"}))
                .await
                .status(),
            200
        );
        tokio::time::sleep(pause).await;
    }
}

#[actix_rt::test]
async fn a_slow_reader_is_closed_with_4008_while_the_others_keep_receiving() {
    let (cluster, admin, topic) = small_buffers().await;
    let mut fast = cluster.ws(0, Codec::MsgPack).await;
    fast.hello(&admin, ClientKind::Console).await;
    let start = fast.subscribe(&topic, None).await.unwrap().seq;
    let mut slow = slow_client(&cluster.nodes[0].ws).await;
    slow.hello(&admin, ClientKind::Console).await;
    slow.subscribe(&topic, None).await.unwrap();

    // The slow client stops reading; 40 apply/reject rounds make 80 events of ~2 KB each,
    // far more than its queue and a 16 KiB kernel send buffer hold, written well within
    // the 5 s a closed socket lingers for its reader. The fast one reads along.
    let rounds = 40;
    let writing = applications(&cluster, &admin, rounds, Duration::ZERO);
    let reading = async {
        for expected in start + 1..=start + 2 * rounds {
            assert_eq!(
                fast.next_event().await.seq,
                expected,
                "the fast reader gets every event"
            );
        }
    };
    tokio::join!(writing, reading);

    let (ended, got) = slow.until_closed().await;
    assert_eq!(ended, Ended::Closed(gonghui_protocol::close::TOO_SLOW));
    assert!(
        (got.len() as u64) < 2 * rounds,
        "the slow reader was cut off ({} events)",
        got.len()
    );
    assert!(
        got.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "what it did get was in order"
    );
}

/// Events that reach a node one at a time are written to each socket at once by its
/// lane; one that backs up there must still end in 4008, not wait unflushed.
#[actix_rt::test]
async fn a_slow_reader_of_events_one_at_a_time_is_closed_with_4008() {
    let (cluster, admin, topic) = small_buffers().await;
    let mut slow = slow_client(&cluster.nodes[0].ws).await;
    slow.hello(&admin, ClientKind::Console).await;
    slow.subscribe(&topic, None).await.unwrap();

    applications(&cluster, &admin, 30, Duration::from_millis(20)).await;

    let (ended, got) = slow.until_closed().await;
    assert_eq!(ended, Ended::Closed(gonghui_protocol::close::TOO_SLOW));
    assert!(
        got.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "what it did get was in order"
    );
}
