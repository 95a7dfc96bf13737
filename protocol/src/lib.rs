//! Every type that crosses the wire between gonghui and its clients, and the one codec
//! that turns them into WebSocket frames. It has no server dependencies, so the server,
//! the integration tests and the load tester all speak through the same types.
//!
//! # Layout
//! - [`frames`]: the WebSocket messages, client → server ([`ClientMsg`]) and server → client ([`ServerMsg`]).
//! - [`close`]: the WebSocket close codes a node sends.
//! - [`codec`]: the subprotocols, and the single [`encode`] / [`decode`] pair for both codecs.
//! - [`topic`]: the topic names a client may subscribe to, parsed once.
//! - [`events`]: every event kind, its topics and its data: checked in debug builds, published as AsyncAPI.
//! - [`dto`]: the JSON bodies of the HTTP API and the data carried by events and snapshots.
//! - [`time`]: the RFC 3339 millisecond timestamps every time field uses.

pub mod close;
pub mod codec;
pub mod dto;
pub mod events;
pub mod frames;
pub mod time;
pub mod topic;

pub use codec::{decode, encode, request_id, Codec, CodecError, WireFrame};
pub use frames::{ClientKind, ClientMsg, ErrorBody, EventFrame, RequestId, ServerMsg};
pub use topic::{Topic, TopicKind};
