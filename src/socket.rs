//! A WebSocket's TCP stream, owned by its session once the handshake is done: no read
//! or write buffer lives while the socket is idle. A read allocates only when the kernel
//! says there is something to read and frees it once the frames are taken; frames queued
//! while a session handles its mailbox go to the kernel in one syscall, and only what the
//! kernel cannot take now waits here (bounded by the session, which closes a slow reader
//! with 4008).
//!
//! Frames are RFC 6455's, parsed and built by actix-http's `ws` codec; what is ours is
//! when memory is held and when the socket is let go (see [`Outbox::linger`]).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_http::ws::{CloseReason, Codec, Frame, Item, Parser, ProtocolError};
use actix_web::rt::net::TcpStream;
use actix_web::web;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::oneshot;
use tokio_util::codec::Decoder;

use crate::state::AppState;

/// What one read asks of the kernel at most (frames larger than this take several).
const READ_CHUNK: usize = 4096;
/// How long a closing socket may take to send what it owes and hear the client's close.
const LINGER: Duration = Duration::from_secs(5);
/// Chunks handed to one `writev`.
const MAX_SLICES: usize = 64;

/// The connection itself. Dropping the last handle closes it, counts it out of the
/// node's open sockets and lets the HTTP server know the connection is over.
pub struct Socket {
    io: TcpStream,
    state: web::Data<AppState>,
    _over: oneshot::Sender<()>,
}

impl Socket {
    /// Takes over an upgraded stream; `over` resolves when the socket is closed.
    pub fn open(io: TcpStream, state: web::Data<AppState>) -> (Rc<Socket>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        state.open_sockets.fetch_add(1, Ordering::SeqCst);
        let socket = Socket {
            io,
            state,
            _over: tx,
        };
        (Rc::new(socket), rx)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.state.open_sockets.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The client's frames, as a stream for the session actor.
///
/// A frame's size is checked when its header arrives, from the length it declares, so no
/// more than [`max_frame`](Frames::new) (and one read) is ever buffered for it; the
/// fragments of one message count together against the same bound.
pub struct Frames {
    socket: Rc<Socket>,
    buf: BytesMut,
    codec: Codec,
    max_frame: usize,
    /// Bytes of the fragmented message under way.
    fragmented: usize,
    ended: bool,
}

impl Frames {
    /// Reads `socket`, starting with bytes the handshake read past its end; frames larger
    /// than `max_frame` end the stream with [`ProtocolError::Overflow`].
    pub fn new(socket: Rc<Socket>, early: BytesMut, max_frame: usize) -> Self {
        let buf = if early.is_empty() {
            BytesMut::new()
        } else {
            BytesMut::from(&early[..])
        };
        Frames {
            socket,
            buf,
            codec: Codec::new().max_size(max_frame),
            max_frame,
            fragmented: 0,
            ended: false,
        }
    }

    /// Whether the frame at the head of the buffer, or the message it continues, is
    /// longer than allowed: known as soon as its header is in.
    fn too_long(&self) -> bool {
        declared_length(&self.buf).is_some_and(|length| {
            let continues = self.buf[0] & 0x0f == 0;
            let before = if continues { self.fragmented } else { 0 };
            length.saturating_add(before as u64) > self.max_frame as u64
        })
    }

    /// Adds a fragment to the message under way, which [`Frames::too_long`] bounds.
    fn track(&mut self, frame: &Frame) {
        match frame {
            Frame::Continuation(Item::Last(_)) => self.fragmented = 0,
            Frame::Continuation(
                Item::FirstText(bytes) | Item::FirstBinary(bytes) | Item::Continue(bytes),
            ) => self.fragmented += bytes.len(),
            _ => {}
        }
    }
}

/// The payload length a frame's header declares, once the header is in (RFC 6455 §5.2).
fn declared_length(buf: &[u8]) -> Option<u64> {
    let short = u64::from(*buf.get(1)? & 0x7f);
    let at = |range: std::ops::Range<usize>| buf.get(range);
    match short {
        126 => at(2..4).map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))),
        127 => at(2..10).map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default())),
        n => Some(n),
    }
}

impl Stream for Frames {
    type Item = Result<Frame, ProtocolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if !this.buf.is_empty() {
                if this.too_long() {
                    this.ended = true;
                    return Poll::Ready(Some(Err(ProtocolError::Overflow)));
                }
                match this.codec.decode(&mut this.buf) {
                    Ok(Some(frame)) => {
                        if this.buf.is_empty() {
                            this.buf = BytesMut::new();
                        }
                        this.track(&frame);
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        this.ended = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if ready!(this.socket.io.poll_read_ready(cx)).is_err() {
                return Poll::Ready(None);
            }
            this.buf.reserve(READ_CHUNK);
            match this.socket.io.try_read_buf(&mut this.buf) {
                Ok(0) => this.ended = true,
                Ok(_) => {}
                // Readiness was stale: nothing to keep a buffer for until the next read.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && this.buf.is_empty() => {
                    this.buf = BytesMut::new();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => this.ended = true,
            }
        }
    }
}

/// A frame the server sends.
pub enum Out<'a> {
    /// A text frame (JSON).
    Text(&'a [u8]),
    /// A binary frame (MessagePack).
    Binary(&'a [u8]),
    /// A heartbeat.
    Ping,
    /// The answer to the client's ping.
    Pong(&'a [u8]),
    /// The closing frame.
    Close(Option<CloseReason>),
}

impl Out<'_> {
    fn encode(self, dst: &mut BytesMut) {
        match self.data() {
            Some((header, payload)) => {
                dst.extend_from_slice(&header);
                dst.extend_from_slice(payload);
            }
            None => {
                if let Out::Close(reason) = self {
                    Parser::write_close(dst, reason, false);
                }
            }
        }
    }

    /// A data or control frame's header and payload (all but the close frame, whose
    /// payload is built): a server's frames are final and unmasked (RFC 6455 §5.2).
    fn data(&self) -> Option<(Header, &[u8])> {
        let (opcode, payload): (u8, &[u8]) = match self {
            Out::Text(payload) => (0x1, payload),
            Out::Binary(payload) => (0x2, payload),
            Out::Ping => (0x9, b""),
            Out::Pong(payload) => (0xA, payload),
            Out::Close(_) => return None,
        };
        Some((Header::new(opcode, payload.len()), payload))
    }
}

/// A frame's header: at most 10 bytes.
struct Header {
    bytes: [u8; 10],
    len: usize,
}

impl Header {
    fn new(opcode: u8, len: usize) -> Self {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x80 | opcode;
        let len = match len {
            0..=125 => {
                bytes[1] = len as u8;
                2
            }
            126..=0xFFFF => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            _ => {
                bytes[1] = 127;
                bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                10
            }
        };
        Header { bytes, len }
    }
}

impl std::ops::Deref for Header {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Whether a write left anything waiting for the socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// The kernel took everything.
    All,
    /// Some waits: call [`Outbox::flush`] when [`Outbox::writable`] resolves.
    Waiting,
}

/// The sending side: frames queued for the next write, and those the kernel has not
/// taken yet, in order.
pub struct Outbox {
    socket: Rc<Socket>,
    queued: BytesMut,
    waiting: VecDeque<Bytes>,
}

impl Outbox {
    /// Sends on `socket`.
    pub fn new(socket: Rc<Socket>) -> Self {
        Outbox {
            socket,
            queued: BytesMut::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Adds `frames` to the next write; [`Outbox::send`] writes them.
    pub fn queue<'a>(&mut self, frames: impl IntoIterator<Item = Out<'a>>) {
        for frame in frames {
            frame.encode(&mut self.queued);
        }
    }

    /// Writes what was queued with one syscall, keeping what the kernel does not take.
    ///
    /// # Errors
    /// When the connection is broken.
    pub fn send(&mut self) -> io::Result<Sent> {
        if self.queued.is_empty() {
            return Ok(self.state());
        }
        let mut queued = std::mem::take(&mut self.queued);
        let written = if self.waiting.is_empty() {
            match self.socket.io.try_write(&queued) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            }
        } else {
            0
        };
        if written < queued.len() {
            self.waiting.push_back(queued.split_off(written).freeze());
        }
        Ok(self.state())
    }

    /// Writes one data frame now, straight from its payload, when nothing is queued or
    /// waiting (else after them); what the kernel does not take waits.
    ///
    /// # Errors
    /// When the connection is broken.
    pub fn send_now(&mut self, frame: Out<'_>) -> io::Result<Sent> {
        let idle = self.waiting.is_empty() && self.queued.is_empty();
        let Some((header, payload)) = frame.data().filter(|_| idle) else {
            self.queue([frame]);
            return self.send();
        };
        let written = match self
            .socket
            .io
            .try_write_vectored(&[IoSlice::new(&header), IoSlice::new(payload)])
        {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        if written < header.len() + payload.len() {
            // Rare: the frame is copied only when the kernel did not take all of it.
            self.queue([frame]);
            let mut rest = std::mem::take(&mut self.queued);
            rest.advance(written);
            self.waiting.push_back(rest.freeze());
        }
        Ok(self.state())
    }

    /// Writes what waits, as much as the kernel takes now.
    ///
    /// # Errors
    /// When the connection is broken.
    pub fn flush(&mut self) -> io::Result<Sent> {
        while !self.waiting.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .waiting
                .iter()
                .take(MAX_SLICES)
                .map(|b| IoSlice::new(b))
                .collect();
            let mut written = match self.socket.io.try_write_vectored(&slices) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            while written > 0 {
                let first = self
                    .waiting
                    .front_mut()
                    .expect("written bytes were waiting");
                if written >= first.len() {
                    written -= first.len();
                    self.waiting.pop_front();
                } else {
                    first.advance(written);
                    written = 0;
                }
            }
        }
        Ok(self.state())
    }

    fn state(&self) -> Sent {
        if self.waiting.is_empty() {
            Sent::All
        } else {
            Sent::Waiting
        }
    }

    /// Writes the kernel could not take yet (each one write's frames).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Resolves when the socket can take more.
    pub fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> + 'static {
        let socket = self.socket.clone();
        async move { socket.io.writable().await }
    }

    /// Lets the socket go after the server's close frame: sends what waits, half-closes,
    /// and reads (discarding) until the client closes too — so the close frame is not
    /// lost to a reset — for at most [`LINGER`]. Takes what waits; the outbox is spent.
    pub fn linger(&mut self) -> impl std::future::Future<Output = ()> + 'static {
        let mut waiting = std::mem::take(&mut self.waiting);
        if !self.queued.is_empty() {
            waiting.push_back(std::mem::take(&mut self.queued).freeze());
        }
        let mut rest = Outbox {
            socket: self.socket.clone(),
            queued: BytesMut::new(),
            waiting,
        };
        async move {
            let closing = async {
                while rest.flush()? == Sent::Waiting {
                    rest.socket.io.writable().await?;
                }
                socket2::SockRef::from(&rest.socket.io).shutdown(std::net::Shutdown::Write)?;
                let mut sink = [0u8; 512];
                loop {
                    rest.socket.io.readable().await?;
                    match rest.socket.io.try_read(&mut sink) {
                        Ok(0) => return Ok::<(), io::Error>(()),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, closing).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::OpCode;

    /// Our headers must be byte for byte what actix-http's parser writes, at each length
    /// boundary of RFC 6455 §5.2 (7-bit, 16-bit and 64-bit lengths).
    #[test]
    fn frames_match_the_parser_at_every_length_boundary() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload = vec![b'x'; len];
            for (frame, opcode) in [
                (Out::Text(&payload), OpCode::Text),
                (Out::Binary(&payload), OpCode::Binary),
                (Out::Pong(&payload), OpCode::Pong),
            ] {
                let mut ours = BytesMut::new();
                frame.encode(&mut ours);
                let mut theirs = BytesMut::new();
                Parser::write_message(&mut theirs, &payload[..], opcode, true, false);
                assert_eq!(ours, theirs, "{opcode:?} of {len} bytes");
            }
        }
        let mut ping = BytesMut::new();
        Out::Ping.encode(&mut ping);
        assert_eq!(&ping[..], &[0x89, 0]);
    }
}
