//! Opening a session the way a client does, from a chosen source address, and reading
//! frames through the protocol crate's codec.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use gonghui_protocol::{
    decode, encode, ClientKind, ClientMsg, Codec, RequestId, ServerMsg, WireFrame,
};
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open WebSocket.
pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// What a frame turned out to be.
pub enum Incoming<T = ServerMsg> {
    /// A protocol message, read as `T`.
    Msg(T),
    /// The server closed with this code.
    Closed(u16),
}

/// Connects to `url` (a `ws://host:port/ws` URL) from `source`, asking for `codec`.
pub async fn connect(url: &str, codec: Codec, source: Option<IpAddr>) -> anyhow::Result<Socket> {
    connect_with(url, codec, source, None).await
}

/// [`connect`], with a receive buffer of `recv_buffer` bytes (a small one makes a client
/// that stops reading back the server up at once, as a phone on a bad network does).
pub async fn connect_with(
    url: &str,
    codec: Codec,
    source: Option<IpAddr>,
    recv_buffer: Option<u32>,
) -> anyhow::Result<Socket> {
    let request = {
        let mut r = url.into_client_request()?;
        r.headers_mut()
            .insert("sec-websocket-protocol", codec.subprotocol().parse()?);
        r
    };
    let host = request.uri().host().context("no host")?.to_owned();
    let port = request.uri().port_u16().unwrap_or(80);
    let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .context("no address")?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    let stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr))
        .await
        .context("connect timed out")??;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)),
    )
    .await
    .context("handshake timed out")??;
    Ok(ws)
}

/// Sends one client message.
pub async fn send(socket: &mut Socket, codec: Codec, msg: &ClientMsg) -> anyhow::Result<()> {
    let frame = match encode(codec, msg)? {
        WireFrame::Binary(b) => Message::Binary(b.to_vec()),
        WireFrame::Text(t) => Message::Text(t),
    };
    socket.send(frame).await?;
    Ok(())
}

/// The next server message (as a `ServerMsg`, or any lighter view of one) or close;
/// `None` when the connection just ended.
pub async fn next<T: DeserializeOwned>(
    socket: &mut Socket,
    codec: Codec,
) -> anyhow::Result<Option<Incoming<T>>> {
    loop {
        let Some(frame) = socket.next().await else {
            return Ok(None);
        };
        match frame? {
            Message::Binary(b) => return Ok(Some(Incoming::Msg(decode(codec, &b)?))),
            Message::Text(t) => return Ok(Some(Incoming::Msg(decode(codec, t.as_bytes())?))),
            Message::Close(c) => {
                return Ok(Some(Incoming::Closed(
                    c.map_or(1005, |c| u16::from(c.code)),
                )))
            }
            _ => {}
        }
    }
}

/// Parses `127.0.0.2-127.0.0.40` or `127.0.0.2,127.0.0.3` into addresses.
pub fn parse_source_ips(spec: &str) -> anyhow::Result<Vec<IpAddr>> {
    let mut ips = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (std::net::Ipv4Addr, std::net::Ipv4Addr) = (a.parse()?, b.parse()?);
                anyhow::ensure!(u32::from(a) <= u32::from(b), "empty range {part}");
                ips.extend((u32::from(a)..=u32::from(b)).map(|n| IpAddr::V4(n.into())));
            }
            None => ips.push(part.parse()?),
        }
    }
    Ok(ips)
}

/// Subscribes a socket waits for at once: a node checks a socket's subscribes one at a
/// time and refuses those beyond 32 waiting.
const SUBSCRIBES_AT_ONCE: usize = 32;
/// Frames a node takes from a socket at once, and per second after (`session/budget.rs`),
/// less a margin.
const FRAME_BURST: usize = 90;
const FRAMES_PER_SECOND: f64 = 19.0;

/// Opens a console session: hello with `token`, then a subscription to each of `topics`.
pub async fn open(
    url: &str,
    codec: Codec,
    token: String,
    topics: &[String],
) -> anyhow::Result<Socket> {
    let fresh: Vec<(String, Option<u64>)> = topics.iter().map(|t| (t.clone(), None)).collect();
    resume(url, codec, token, &fresh).await
}

/// Opens a console session that resumes each topic after the seq given with it, as a
/// client does after its socket was closed.
pub async fn resume(
    url: &str,
    codec: Codec,
    token: String,
    topics: &[(String, Option<u64>)],
) -> anyhow::Result<Socket> {
    let mut socket = connect(url, codec, None).await?;
    let hello = ClientMsg::Hello {
        id: RequestId::Int(0),
        token,
        client: ClientKind::Console,
    };
    send(&mut socket, codec, &hello).await?;
    replied(&mut socket, codec, 1).await?;
    let mut sent = 1;
    for (k, chunk) in topics.chunks(SUBSCRIBES_AT_ONCE).enumerate() {
        if sent + chunk.len() > FRAME_BURST {
            let wait = chunk.len() as f64 / FRAMES_PER_SECOND;
            tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
        }
        sent += chunk.len();
        for (n, (topic, since)) in chunk.iter().enumerate() {
            let subscribe = ClientMsg::Subscribe {
                id: RequestId::Int((k * SUBSCRIBES_AT_ONCE + n) as i64 + 1),
                topic: topic.clone(),
                since: *since,
            };
            send(&mut socket, codec, &subscribe).await?;
        }
        replied(&mut socket, codec, chunk.len()).await?;
    }
    Ok(socket)
}

/// Reads until `count` successful replies came, passing over events.
async fn replied(socket: &mut Socket, codec: Codec, count: usize) -> anyhow::Result<()> {
    let mut replies = 0;
    while replies < count {
        match next(socket, codec).await? {
            Some(Incoming::Msg(ServerMsg::Reply { ok: true, .. })) => replies += 1,
            Some(Incoming::Msg(ServerMsg::Event(_))) => {}
            other => anyhow::bail!(
                "hello or subscribe refused: {:?}",
                other.map(|i| match i {
                    Incoming::Msg(m) => format!("{m:?}"),
                    Incoming::Closed(code) => format!("closed {code}"),
                })
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn source_ranges_expand() {
        let ips = super::parse_source_ips("127.0.0.2-127.0.0.4,127.0.0.9").unwrap();
        assert_eq!(ips.len(), 4);
        assert_eq!(ips[3].to_string(), "127.0.0.9");
        assert!(super::parse_source_ips("127.0.0.5-127.0.0.1").is_err());
    }
}
