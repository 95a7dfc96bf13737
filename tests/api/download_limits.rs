//! Downloads cannot pin the database pool: a few stream at once per node and per user,
//! and a client that stops reading is cut off so its connection goes back to the pool.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{pg_base, Cluster};

/// Starts a download on a socket with a tiny receive buffer, reads its head, and stops
/// reading: a client that stalls on purpose.
async fn stalled_download(node: &str, path: &str, token: &str) -> tokio::net::TcpStream {
    let address: std::net::SocketAddr = node.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 1024];
    let n = stream.read(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

#[actix_rt::test]
async fn stalled_downloads_are_capped_and_cut_off_and_the_pool_stays_free() {
    let cluster = Cluster::start_with(1, &pg_base(), |s| {
        s.db_pool = Some(4);
        s.exports_at_once = Some(3);
        s.export_stall_secs = Some(1);
        s.socket_send_buffer = Some(4096);
    })
    .await;
    let seeded = cluster.seed_members(20_000).await;
    let union = seeded.union_id;
    let root = cluster.root_admin_token().await;
    let (other, other_id) = cluster.login_sms(0, "13855630001", "console").await;
    cluster.appoint(union, other_id, &["members.manage"]).await;
    let path = format!("/api/v1/unions/{union}/members/export");
    let node = cluster.nodes[0].http.clone();

    let stalled = vec![
        stalled_download(&node, &path, &root).await,
        stalled_download(&node, &path, &root).await,
    ];
    let third = cluster
        .get(0, &root, &format!("/unions/{union}/members/export"))
        .await;
    assert_eq!(third.status(), 429, "two downloads per user");
    assert!(third.headers().contains_key("retry-after"));
    let by_other = stalled_download(&node, &path, &other).await;
    let fourth = cluster
        .get(0, &other, &format!("/unions/{union}/members/export"))
        .await;
    assert_eq!(fourth.status(), 503, "three downloads per node");
    assert!(fourth.headers().contains_key("retry-after"));

    // Three stalled downloads, four pooled connections: everyone else is still served.
    let me = Instant::now();
    assert_eq!(cluster.get(0, &root, "/me").await.status(), 200);
    assert!(me.elapsed() < Duration::from_secs(2), "{:?}", me.elapsed());

    // Cut off after a second unread, the places free up and a whole download goes through.
    let started = Instant::now();
    let file = loop {
        let r = cluster
            .get(0, &root, &format!("/unions/{union}/members/export"))
            .await;
        if r.status() == 200 {
            break r.bytes().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still refused: {}",
            r.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lines = file
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(lines, 20_001);
    drop((stalled, by_other));
}
