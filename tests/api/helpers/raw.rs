//! A WebSocket spoken byte by byte, for what a well-behaved client library will not send:
//! the upgrade written by hand, frames with any header, and the server's frames read
//! back until its close.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// RFC 6455's sample key and the accept value it must produce.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// An upgrade request for `path` asking for the JSON codec.
pub fn upgrade_request(path: &str, key: Option<&str>) -> String {
    let key = key.map_or(String::new(), |k| format!("Sec-WebSocket-Key: {k}\r\n"));
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         {key}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: gonghui.v1.json\r\n\r\n"
    )
}

/// A masked frame's header as a client sends it: `first` is FIN and the opcode (0x81 a
/// whole text frame, 0x01 a text frame to be continued, 0x00/0x80 a continuation), and
/// `length` what it declares, whatever follows.
pub fn header(first: u8, length: u64) -> Vec<u8> {
    let mut frame = vec![first];
    match length {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= u64::from(u16::MAX) => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&n.to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame
}

/// A whole masked frame.
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = header(first, payload.len() as u64);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    frame
}

/// A masked text frame, as a client sends it.
pub fn client_text(payload: &[u8]) -> Vec<u8> {
    frame(0x81, payload)
}

/// Reads an HTTP head byte by byte, so nothing after it is taken from the socket.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.expect("the head arrives"));
    }
    String::from_utf8(head).unwrap().to_lowercase()
}

/// A socket upgraded on `http` (a node's `http://` base), or the refusal's head.
pub async fn open(http: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(http.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(upgrade_request("/ws", Some(KEY)).as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    if head.starts_with("http/1.1 101") {
        Ok(stream)
    } else {
        Err(head)
    }
}

/// The close code of the server's close frame, skipping other frames; `None` when none
/// arrives within `within` (or the connection ends without one).
pub async fn close_code(stream: &mut TcpStream, within: Duration) -> Option<u16> {
    let read = async {
        loop {
            let mut head = [0u8; 2];
            stream.read_exact(&mut head).await.ok()?;
            let length = match head[1] & 0x7f {
                126 => u64::from(stream.read_u16().await.ok()?),
                127 => stream.read_u64().await.ok()?,
                n => u64::from(n),
            };
            let mut payload = vec![0u8; length as usize];
            stream.read_exact(&mut payload).await.ok()?;
            if head[0] & 0x0f == 0x8 {
                return Some(u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}
