//! A session's sending half, shared between the session actor and its thread's lane
//! ([`crate::lane`]): the lane writes events and subscribe replies here directly, so a
//! delivery does not pass through the session's mailbox, and the actor writes its own
//! replies. Both run on the session's thread, one at a time.
//!
//! The topics a session holds live here too: an event of a topic it no longer holds (the
//! unsubscribe is still on its way to the owner) is not written.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use actix_http::ws::CloseReason;
use gonghui_actors::hub::messages::SharedEvent;
use gonghui_protocol::{encode, Codec, ErrorBody, RequestId, ServerMsg, Topic, WireFrame};
use smallvec::SmallVec;

use crate::socket::{Out, Outbox, Sent, Socket};

/// What a session sends, and to which topics events may go.
pub struct Writer {
    codec: Codec,
    out: RefCell<Outbox>,
    topics: RefCell<Topics>,
    /// Whether a write of what is queued is due (someone will call [`Writer::send`]).
    due: Cell<bool>,
    /// Whether the close frame was queued: nothing more is.
    closing: Cell<bool>,
}

impl Writer {
    /// Writes `codec` frames to `socket`.
    pub fn new(socket: Rc<Socket>, codec: Codec) -> Self {
        Writer {
            codec,
            out: RefCell::new(Outbox::new(socket)),
            topics: RefCell::default(),
            due: Cell::new(false),
            closing: Cell::new(false),
        }
    }

    /// The topics events may be written for.
    pub fn topics(&self) -> &RefCell<Topics> {
        &self.topics
    }

    /// Queues `frames` for the next [`Writer::send`]; false once closing.
    pub fn queue<'a>(&self, frames: impl IntoIterator<Item = Out<'a>>) -> bool {
        if self.closing.get() {
            return false;
        }
        self.out.borrow_mut().queue(frames);
        true
    }

    /// Queues a server message; false once closing.
    pub fn write(&self, msg: &ServerMsg) -> bool {
        match encode(self.codec, msg) {
            Ok(WireFrame::Binary(bytes)) => self.queue([Out::Binary(&bytes)]),
            Ok(WireFrame::Text(text)) => self.queue([Out::Text(text.as_bytes())]),
            Err(e) => {
                tracing::error!(error = %e, "a server message did not encode");
                false
            }
        }
    }

    /// Queues the answer to request `id`; false once closing.
    pub fn reply(&self, id: RequestId, result: Result<serde_json::Value, ErrorBody>) -> bool {
        let msg = match result {
            Ok(data) => ServerMsg::ok(id, data),
            Err(error) => ServerMsg::failed(id, error),
        };
        self.write(&msg)
    }

    /// Queues an event of a topic the session holds; false when it is not written.
    pub fn event(&self, event: &SharedEvent) -> bool {
        self.holds(event) && self.queue([self.frame(event.encoded(self.codec))])
    }

    /// Writes an event of a topic the session holds at once, when nothing is queued (one
    /// syscall, no copy); `None` when it is not written.
    pub fn event_now(&self, event: &SharedEvent) -> Option<io::Result<Sent>> {
        if self.closing.get() || !self.holds(event) {
            return None;
        }
        let bytes = event.encoded(self.codec);
        Some(self.out.borrow_mut().send_now(self.frame(bytes)))
    }

    fn holds(&self, event: &SharedEvent) -> bool {
        self.topics.borrow().contains(event.topic)
    }

    fn frame<'a>(&self, encoded: &'a [u8]) -> Out<'a> {
        match self.codec {
            Codec::MsgPack => Out::Binary(encoded),
            Codec::Json => Out::Text(encoded),
        }
    }

    /// Marks a write due; true when it was not already (the caller then sends).
    pub fn make_due(&self) -> bool {
        !self.due.replace(true)
    }

    /// Writes what was queued with one syscall (see [`Outbox::send`]).
    ///
    /// # Errors
    /// When the connection is broken.
    pub fn send(&self) -> io::Result<Sent> {
        self.due.set(false);
        if self.closing.get() {
            return Ok(Sent::All);
        }
        self.out.borrow_mut().send()
    }

    /// Writes what waits, as much as the kernel takes now.
    ///
    /// # Errors
    /// When the connection is broken.
    pub fn flush(&self) -> io::Result<Sent> {
        self.out.borrow_mut().flush()
    }

    /// Writes the kernel could not take yet.
    pub fn waiting(&self) -> usize {
        self.out.borrow().waiting()
    }

    /// Resolves when the socket can take more.
    pub fn writable(&self) -> impl std::future::Future<Output = io::Result<()>> + 'static {
        self.out.borrow().writable()
    }

    /// Queues the close frame after what waits and writes it; nothing is queued after.
    pub fn close(&self, reason: Option<CloseReason>) {
        if self.closing.get() {
            return;
        }
        let mut out = self.out.borrow_mut();
        out.queue([Out::Close(reason)]);
        // A broken socket has nothing to linger for; the session finds out by itself.
        let _ = out.send();
        self.closing.set(true);
    }

    /// Whether the close frame was sent.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// Lets the socket go once closed (see [`Outbox::linger`]).
    pub fn linger(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.out.borrow_mut().linger()
    }
}

/// The topics a session holds: most hold two (their member topic and their union's), kept
/// inline so an event's check touches no other memory.
#[derive(Default)]
pub struct Topics(SmallVec<[Topic; 2]>);

impl Topics {
    /// Whether `topic` is held.
    pub fn contains(&self, topic: Topic) -> bool {
        self.0.contains(&topic)
    }

    /// Holds `topic` (once, however often it is subscribed); false when it was held.
    pub fn insert(&mut self, topic: Topic) -> bool {
        let new = !self.contains(topic);
        if new {
            self.0.push(topic);
        }
        new
    }

    /// Lets `topic` go; false when it was not held.
    pub fn remove(&mut self, topic: Topic) -> bool {
        let held = self.0.iter().position(|t| *t == topic);
        held.map(|i| self.0.swap_remove(i)).is_some()
    }

    /// How many are held.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// Each held topic.
    pub fn iter(&self) -> impl Iterator<Item = Topic> + '_ {
        self.0.iter().copied()
    }

    /// Lets every topic go, returning them.
    pub fn take(&mut self) -> Vec<Topic> {
        std::mem::take(&mut self.0).into_vec()
    }
}
