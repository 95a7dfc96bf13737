//! The messages between sessions, the registry, owners and the bridge.

use std::sync::{Arc, OnceLock};

use actix::Message;
use bytes::Bytes;
use gonghui_protocol::dto::SubscribeReply;
use gonghui_protocol::{
    encode, ClientKind, Codec, ErrorBody, EventFrame, RequestId, ServerMsg, Topic, WireFrame,
};

/// One event shared by every session that receives it, encoded at most once per codec.
#[derive(Debug)]
pub struct SharedEvent {
    /// The parsed topic.
    pub topic: Topic,
    /// The event as it goes on the wire.
    pub frame: EventFrame,
    msgpack: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
}

impl super::sequencer::Sequenced for Arc<SharedEvent> {
    fn seq(&self) -> u64 {
        self.frame.seq
    }
}

impl SharedEvent {
    /// Wraps an event for sharing.
    pub fn new(topic: Topic, frame: EventFrame) -> Arc<Self> {
        Arc::new(SharedEvent {
            topic,
            frame,
            msgpack: OnceLock::new(),
            json: OnceLock::new(),
        })
    }

    /// The event's seq.
    pub fn seq(&self) -> u64 {
        self.frame.seq
    }

    /// The encoded frame for `codec`, made on first use; borrowed, so the threads writing
    /// it to their sockets share no counter.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        let cell = match codec {
            Codec::MsgPack => &self.msgpack,
            Codec::Json => &self.json,
        };
        cell.get_or_init(|| {
            match encode(codec, &ServerMsg::Event(self.frame.clone())).expect("events encode") {
                WireFrame::Binary(b) => b,
                WireFrame::Text(t) => Bytes::from(t.into_bytes()),
            }
        })
    }
}

/// What owners and the registry tell one session (live events go as [`Delivery::Event`]).
pub enum ToSession {
    /// The answer to a subscribe; events follow it.
    Subscribed {
        /// The request's id.
        request: RequestId,
        /// The topic.
        topic: Topic,
        /// The reply data, or why it failed.
        result: Result<SubscribeReply, ErrorBody>,
    },
    /// Several events of one topic, in seq order (a catch-up).
    Batch(Vec<Arc<SharedEvent>>),
    /// Check every subscription but the user's own member topic again (their rights,
    /// or the tree, changed) and end those no longer allowed.
    Recheck,
    /// Close the socket with this code.
    Close {
        /// The WebSocket close code.
        code: u16,
        /// Why, for the client.
        reason: &'static str,
    },
}

/// What goes down a [`Lane`]: a live event for some of the thread's sessions, or a
/// message for one of them.
pub enum Delivery {
    /// One event for these sessions: one message per thread per event, not per session.
    Event(Arc<SharedEvent>, Vec<u64>),
    /// A message for one session.
    To(u64, ToSession),
}

/// The way into the thread a session runs on. Owners and the registry send every session
/// of a thread through its lane, so an event to thousands of subscribers crosses threads
/// once per thread; a lane is FIFO per sender, so what an owner sends one session (the
/// subscribe's reply, its catch-up, live events) arrives in the order sent.
#[derive(Clone)]
pub struct Lane(tokio::sync::mpsc::UnboundedSender<Delivery>);

impl Lane {
    /// A lane and the receiving end its thread drains.
    pub fn new() -> (Lane, tokio::sync::mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Lane(tx), rx)
    }

    /// Sends down the lane; false when its thread is gone.
    pub fn send(&self, delivery: Delivery) -> bool {
        self.0.send(delivery).is_ok()
    }

    /// Whether two lanes lead to the same thread.
    pub fn same(&self, other: &Lane) -> bool {
        self.0.same_channel(&other.0)
    }
}

/// How owners and the registry reach a session.
#[derive(Clone)]
pub struct SessionRef {
    /// Unique on this node.
    pub id: u64,
    /// The lane of the session's thread.
    pub lane: Lane,
}

impl SessionRef {
    /// Sends the session `msg`; false when it can no longer be reached.
    pub fn send(&self, msg: ToSession) -> bool {
        self.lane.send(Delivery::To(self.id, msg))
    }
}

/// Starts a topic's stream for a session (session → registry → owner).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Subscribe {
    /// Who.
    pub session: SessionRef,
    /// The request's id, for the reply.
    pub request: RequestId,
    /// Which topic; already authorised.
    pub topic: Topic,
    /// Resume after this seq, or take a snapshot.
    pub since: Option<u64>,
}

/// Stops a topic's stream for a session.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    /// Who.
    pub session_id: u64,
    /// Which topic.
    pub topic: Topic,
}

/// A session authenticated (so logout and shutdown can reach it). Answers false, and
/// keeps nothing, when the user already holds as many sockets of that client kind on
/// this node as allowed.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct SessionOpened {
    /// The session.
    pub session: SessionRef,
    /// The token it said hello with.
    pub token_id: i64,
    /// Whose it is.
    pub user_id: i64,
    /// The client kind of the token.
    pub client: ClientKind,
}

/// A session ended; its subscriptions go with it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    /// The session.
    pub session_id: u64,
    /// The topics it held.
    pub topics: Vec<Topic>,
}

/// An event announced by Postgres, whole or by seq only (too big for NOTIFY).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub enum Announce {
    /// The event itself.
    Event(Arc<SharedEvent>),
    /// Only its place: read it from the log.
    SeqOnly {
        /// Its topic.
        topic: Topic,
        /// Its seq.
        seq: u64,
    },
}

impl Announce {
    /// The announced topic.
    pub fn topic(&self) -> Topic {
        match self {
            Announce::Event(e) => e.topic,
            Announce::SeqOnly { topic, .. } => *topic,
        }
    }

    /// The announced seq.
    pub fn seq(&self) -> u64 {
        match self {
            Announce::Event(e) => e.seq(),
            Announce::SeqOnly { seq, .. } => *seq,
        }
    }
}

/// The bridge (re)connected: notifications may have been missed, read the log.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct Resync;

/// A token was revoked on some node: close its sockets here with 4001.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TokenRevoked {
    /// The token's id.
    pub token_id: i64,
}

/// Someone's rights changed on some node: their sessions here check their subscriptions
/// again (every session's admin queues, when the tree itself changed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AccessChanged {
    /// Whose.
    pub change: crate::store::rights::AccessChange,
}

/// The node is shutting down: close every session with 1012. Answers how many there were.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Shutdown;

/// Whose topics an owner holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerKey {
    /// A union's public and admin topics.
    Union(i64),
    /// The topics of the members whose id falls in this shard: every session holds its
    /// member topic, and an actor per member would cost each idle session an actor.
    Members(u16),
    /// An activity's topic.
    Activity(i64),
}

/// How many owners the members' topics are spread over.
pub const MEMBER_SHARDS: u64 = 256;

impl OwnerKey {
    /// The owner of a topic.
    pub fn of(topic: Topic) -> Self {
        match topic {
            Topic::Member(id) => OwnerKey::Members((id.unsigned_abs() % MEMBER_SHARDS) as u16),
            Topic::Union(id) | Topic::UnionAdmin(id) => OwnerKey::Union(id),
            Topic::Activity(id) => OwnerKey::Activity(id),
        }
    }
}

/// An owner with no subscribers asks to stop; refused if a subscribe is on its way to it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct OwnerIdle {
    /// Which owner.
    pub key: OwnerKey,
    /// How many subscribes it has received.
    pub subscribes_seen: u64,
}

/// Tells an idle owner to stop; only the registry sends it, after forgetting the owner.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopOwner;
