//! The WebSocket handshake, now that sessions own their sockets: frames a client sends
//! in the same write as its upgrade request are read, and requests that are not a good
//! upgrade to `/ws` get the API's error shape instead of a socket.

use gonghui_protocol::{ClientKind, ClientMsg, Codec, RequestId, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::MaybeTlsStream;

use crate::helpers::raw::{client_text, read_head, upgrade_request, ACCEPT, KEY};
use crate::helpers::{Cluster, WsClient};

#[actix_rt::test]
async fn a_hello_sent_in_the_same_write_as_the_upgrade_is_answered() {
    let cluster = Cluster::start(1).await;
    let token = cluster.root_admin_token().await;
    let hello = ClientMsg::Hello {
        id: RequestId::Int(7),
        token,
        client: ClientKind::Console,
    };
    let mut bytes = upgrade_request("/ws", Some(KEY)).into_bytes();
    bytes.extend(client_text(&serde_json::to_vec(&hello).unwrap()));
    let address = cluster.nodes[0].http.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(&bytes).await.unwrap();

    let head = read_head(&mut stream).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains(&format!("sec-websocket-accept: {}", ACCEPT.to_lowercase())));
    assert!(head.contains("sec-websocket-protocol: gonghui.v1.json"));
    let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
        MaybeTlsStream::Plain(stream),
        Role::Client,
        None,
    )
    .await;
    let mut client = WsClient::from_stream(socket, Codec::Json);
    match client.recv().await {
        ServerMsg::Reply { id, ok, data, .. } => {
            assert_eq!(id, RequestId::Int(7));
            assert!(ok, "hello was answered ok");
            assert_eq!(data.unwrap()["user_id"], cluster.root_admin);
        }
        other => panic!("expected hello's reply, got {other:?}"),
    }
    let topic = format!("union:{}", cluster.root_union);
    assert!(
        client.subscribe(&topic, None).await.is_ok(),
        "the session goes on"
    );
}

/// Sends `request` on a fresh connection and reads the answer to its end.
async fn answer(cluster: &Cluster, request: &str) -> (String, serde_json::Value) {
    let address = cluster.nodes[0].http.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    let mut body = Vec::new();
    stream.read_to_end(&mut body).await.unwrap();
    (
        head,
        serde_json::from_slice(&body).expect("a JSON error body"),
    )
}

#[actix_rt::test]
async fn requests_that_are_not_a_good_upgrade_to_ws_get_an_api_error() {
    let cluster = Cluster::start(1).await;

    let (head, body) = answer(&cluster, &upgrade_request("/api/v1/me", Some(KEY))).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body["error"]["code"], "not_found");

    let (head, body) = answer(&cluster, &upgrade_request("/ws", None)).await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert_eq!(body["error"]["code"], "bad_request");

    let wrong = upgrade_request("/ws", Some(KEY)).replace("gonghui.v1.json", "mqtt");
    let (head, body) = answer(&cluster, &wrong).await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("gonghui.v1.json"));

    let plain = cluster
        .http
        .get(format!("{}/ws", cluster.nodes[0].http))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");

    let me = cluster
        .http
        .get(format!("{}/healthz", cluster.nodes[0].http))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the node serves on");
}
