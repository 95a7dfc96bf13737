//! The actors that deliver events: the [`log_writer`] moves committed events from the
//! outbox into the log, giving them their seqs; the [`registry::Registry`] (one per node) starts a
//! [`owner::TopicOwner`] per union, member or activity on demand; the [`bridge`] LISTENs to
//! Postgres and hands every announced event to the registry; session actors (in the
//! binary) subscribe through the registry and are reached through their thread's
//! [`messages::Lane`] (live events once per thread, [`messages::ToSession`] per session); the
//! [`results`] publisher coalesces activity answers into a few results events a second.
//! Each owner keeps each topic's order with a [`sequencer::Sequencer`], plain code with
//! no actor or database in it.

pub mod bridge;
pub mod log_writer;
pub mod messages;
pub mod owner;
pub mod registry;
pub mod results;
pub mod sequencer;

use std::time::Duration;

/// The knobs of delivery.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Messages a session may have queued before it is closed with 4008.
    pub session_queue: usize,
    /// Recent events kept per topic in memory, to catch up new subscribers without a read.
    pub recent_events: usize,
    /// The longest gap a resume replays; older `since` values get `reset`.
    pub max_replay: u64,
    /// Events read from the log per query when catching up or filling a gap.
    pub read_batch: i64,
    /// How long an owner with no subscribers lives on.
    pub idle_after: Duration,
    /// Sockets one user may hold per client kind on a node; a further hello is closed
    /// with 4029.
    pub sockets_per_user: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            session_queue: 256,
            recent_events: 256,
            max_replay: 10_000,
            read_batch: 500,
            idle_after: Duration::from_secs(60),
            sockets_per_user: 10,
        }
    }
}
