//! `TopicOwner`: the actor that owns, on this node, the topics of one union (`union:N`,
//! `union:N:admin`: the union actor), a shard of members (`member:N` for each member in
//! it: one actor for 1/[`MEMBER_SHARDS`](super::messages::MEMBER_SHARDS) of them, so an
//! idle member costs a topic's state, not an actor) or one activity (`activity:N`). They
//! differ only in their topics and in how a snapshot is read (`store::snapshots`), so
//! they are one type keyed by [`OwnerKey`]; each topic's state is its own. Owners only
//! deliver: writes go route → store transaction (rows, events, NOTIFY) → bridge → owner.
//!
//! Each topic's order is kept by a [`Sequencer`] (handing events out strictly in seq
//! order, reading gaps from the log); the owner does what it answers: sends events to the
//! topic's subscribers and spawns the log reads. A new subscriber is attached at the seq
//! its snapshot (or its `since`) reflects and is first sent what lies between that seq
//! and the head — from the sequencer's ring of recent events when it covers the range,
//! else from the log — so no event falls between the snapshot and the live stream and
//! none comes twice.
//!
//! Sessions are reached through their thread's [`Lane`]: a live event goes to each
//! thread once, with the ids of the subscribers there, not once per subscriber.
//!
//! Just over 500 lines: the actor's handlers are one concept (the ordering itself is in
//! [`Sequencer`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use gonghui_protocol::dto::SubscribeReply;
use gonghui_protocol::{close, ErrorBody, RequestId, Topic};
use serde_json::Value;

use super::messages::{
    Announce, Delivery, Lane, OwnerIdle, OwnerKey, Resync, SessionRef, SharedEvent, StopOwner,
    Subscribe, ToSession, Unsubscribe,
};
use super::sequencer::{CatchUp, Next, Sequencer};
use super::HubSettings;
use crate::store::Store;

/// A live subscriber: gets every event with seq > `after`.
struct Live {
    lane: Lane,
    after: u64,
}

/// A subscriber still being attached; `generation` tells a stale continuation from the current one.
struct Attaching {
    session: SessionRef,
    generation: u64,
}

struct TopicState {
    order: Sequencer<Arc<SharedEvent>>,
    live: HashMap<u64, Live>,
    attaching: HashMap<u64, Attaching>,
    /// The last snapshot of a shared topic (union and admin topics), with its seq.
    snapshot: Option<(u64, Value)>,
    /// Subscribers waiting for the snapshot read in flight.
    snapshot_waiters: Vec<Waiter>,
    /// Subscribers resuming after a seq, waiting for the next read of the log's bounds;
    /// one read at a time serves all that came before it started.
    bounds_waiting: Vec<(Waiter, u64)>,
    /// Whether a read of the bounds is in flight.
    bounds_reading: bool,
    /// Catch-up reads of the log in flight, by the seq each reads after, with the
    /// subscribers (session, generation) each will serve: a storm of resumes from one
    /// seq is one read, not one each.
    catching_up: HashMap<u64, Vec<(u64, u64)>>,
}

impl TopicState {
    fn new(ring: usize) -> Self {
        TopicState {
            order: Sequencer::new(ring),
            live: HashMap::new(),
            attaching: HashMap::new(),
            snapshot: None,
            snapshot_waiters: Vec::new(),
            bounds_waiting: Vec::new(),
            bounds_reading: false,
            catching_up: HashMap::new(),
        }
    }

    fn is_unused(&self) -> bool {
        self.live.is_empty()
            && self.attaching.is_empty()
            && self.snapshot_waiters.is_empty()
            && self.bounds_waiting.is_empty()
            && !self.bounds_reading
            && self.catching_up.is_empty()
    }
}

/// Where a new subscriber starts.
struct Start {
    head: u64,
    after: u64,
    reply: SubscribeReply,
}

impl Start {
    /// Starting from a snapshot that reflects `seq`.
    fn snapshot(seq: u64, snapshot: Value, reset: bool) -> Self {
        Start {
            head: seq,
            after: seq,
            reply: SubscribeReply {
                seq,
                snapshot: Some(snapshot),
                reset,
            },
        }
    }
}

/// A subscribe on its way: who asked, and whether it is a reset.
struct Waiter {
    session: SessionRef,
    generation: u64,
    request: RequestId,
    reset: bool,
}

/// The owner of one union's or one member's topics on this node.
pub struct TopicOwner {
    key: OwnerKey,
    store: Store,
    settings: HubSettings,
    /// Where to say it is idle (the registry; a recipient, so the owner does not know its type).
    idle: Recipient<OwnerIdle>,
    /// Boxed: a map's table is made for a few entries at once, and an owner holds one or two.
    topics: HashMap<Topic, Box<TopicState>>,
    generation: u64,
    subscribes_seen: u64,
    idle_since: Instant,
}

impl TopicOwner {
    /// A new owner; the registry starts it.
    pub fn new(
        key: OwnerKey,
        store: Store,
        settings: HubSettings,
        idle: Recipient<OwnerIdle>,
    ) -> Self {
        TopicOwner {
            key,
            store,
            settings,
            idle,
            topics: HashMap::new(),
            generation: 0,
            subscribes_seen: 0,
            idle_since: Instant::now(),
        }
    }

    /// Does what the topic's sequencer answered: sends its events to the subscribers, in
    /// order (one message per session thread), and reads the log when it asks.
    fn run(&mut self, topic: Topic, next: Next<Arc<SharedEvent>>, ctx: &mut Context<Self>) {
        let Some(state) = self.topics.get_mut(&topic) else {
            return;
        };
        for event in next.deliver {
            let seq = event.seq();
            let mut lanes: Vec<(&Lane, Vec<u64>)> = Vec::new();
            for (&id, sub) in state.live.iter().filter(|(_, sub)| sub.after < seq) {
                match lanes.iter_mut().find(|(lane, _)| lane.same(&sub.lane)) {
                    Some((_, ids)) => ids.push(id),
                    None => lanes.push((&sub.lane, vec![id])),
                }
            }
            for (lane, ids) in lanes {
                lane.send(Delivery::Event(event.clone(), ids));
            }
        }
        if let Some(after) = next.read_after {
            self.read_log(topic, after, ctx);
        }
        self.forget_if_unused(topic);
    }

    /// Reads the log after `after` for the sequencer; a failed read is tried again soon.
    fn read_log(&mut self, topic: Topic, after: u64, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let batch = self.settings.read_batch;
        ctx.spawn(async move { store.events_after(topic, after, batch).await }.into_actor(self).map(
            move |read, act, ctx| {
                let Some(state) = act.topics.get_mut(&topic) else { return };
                match read {
                    Ok(frames) => {
                        let full = frames.len() as i64 == batch;
                        let events = frames.into_iter().map(|f| SharedEvent::new(topic, f)).collect();
                        let next = state.order.read(events, full);
                        act.run(topic, next, ctx);
                    }
                    Err(e) => {
                        tracing::warn!(%topic, error = %e, "reading the event log failed; retrying");
                        state.order.read_failed();
                        ctx.run_later(Duration::from_millis(500), move |act, ctx| act.resync(topic, ctx));
                    }
                }
            },
        ));
    }

    /// Reads the log again from the head of `topic` (after a failed read, or when
    /// announcements may have been missed).
    fn resync(&mut self, topic: Topic, ctx: &mut Context<Self>) {
        if let Some(state) = self.topics.get_mut(&topic) {
            let next = state.order.resync();
            self.run(topic, next, ctx);
        }
    }

    /// Takes the head a consistent read saw, for a topic this node has not followed yet.
    fn learn_head(&mut self, topic: Topic, head: u64, ctx: &mut Context<Self>) {
        if let Some(state) = self.topics.get_mut(&topic) {
            let next = state.order.learn_head(head);
            self.run(topic, next, ctx);
        }
    }

    /// Sends a subscriber what lies between `after` and `head`, then makes it live.
    fn attach(
        &mut self,
        topic: Topic,
        session_id: u64,
        generation: u64,
        after: u64,
        ctx: &mut Context<Self>,
    ) {
        let Some(state) = self.topics.get_mut(&topic) else {
            return;
        };
        let Some(pending) = state
            .attaching
            .get(&session_id)
            .filter(|a| a.generation == generation)
        else {
            return;
        };
        let session = pending.session.clone();
        let head = state.order.head().unwrap_or(after);
        let missed = match state.order.catch_up(after) {
            CatchUp::Ring(missed) => missed,
            CatchUp::Log { after } => {
                let readers = state.catching_up.entry(after).or_default();
                readers.push((session_id, generation));
                if readers.len() == 1 {
                    self.catch_up_from_log(topic, after, ctx);
                }
                return;
            }
        };
        state.attaching.remove(&session_id);
        if missed.is_empty() || session.send(ToSession::Batch(missed)) {
            state.live.insert(
                session_id,
                Live {
                    lane: session.lane,
                    after: after.max(head),
                },
            );
        }
        self.forget_if_unused(topic);
    }

    /// Reads the log after `after` once for every subscriber catching up from there,
    /// sends each what was read and attaches it further (or, when nothing could be read,
    /// closes it so it resubscribes).
    fn catch_up_from_log(&mut self, topic: Topic, after: u64, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let batch = self.settings.read_batch;
        ctx.spawn(
            async move { store.events_after(topic, after, batch).await }
                .into_actor(self)
                .map(move |read, act, ctx| {
                    let Some(state) = act.topics.get_mut(&topic) else {
                        return;
                    };
                    let readers = state.catching_up.remove(&after).unwrap_or_default();
                    let events: Option<Vec<Arc<SharedEvent>>> = match read {
                        Ok(frames) if !frames.is_empty() => Some(
                            frames
                                .into_iter()
                                .map(|f| SharedEvent::new(topic, f))
                                .collect(),
                        ),
                        _ => None,
                    };
                    for (session_id, generation) in readers {
                        let Some(session) = act
                            .topics
                            .get(&topic)
                            .and_then(|s| s.attaching.get(&session_id))
                            .filter(|a| a.generation == generation)
                            .map(|a| a.session.clone())
                        else {
                            continue;
                        };
                        match &events {
                            Some(events) if session.send(ToSession::Batch(events.clone())) => {
                                let last = events.last().map_or(after, |e| e.seq());
                                act.attach(topic, session_id, generation, last, ctx);
                            }
                            Some(_) => act.drop_subscriber(topic, session_id),
                            None => {
                                session.send(ToSession::Close {
                                    code: close::RESTARTING,
                                    reason: "catch-up failed: resubscribe",
                                });
                                act.drop_subscriber(topic, session_id);
                            }
                        }
                    }
                    act.forget_if_unused(topic);
                }),
        );
    }

    fn drop_subscriber(&mut self, topic: Topic, session_id: u64) {
        if let Some(state) = self.topics.get_mut(&topic) {
            state.live.remove(&session_id);
            state.attaching.remove(&session_id);
        }
        self.forget_if_unused(topic);
    }

    /// A topic nobody here reads is forgotten; announcements for it are ignored until then.
    fn forget_if_unused(&mut self, topic: Topic) {
        if self.topics.get(&topic).is_some_and(|t| t.is_unused()) {
            self.topics.remove(&topic);
            if self.topics.is_empty() {
                self.idle_since = Instant::now();
            }
        }
    }

    /// Reads the log's bounds once for every subscriber resuming meanwhile, and starts
    /// each from its `since` when the log still holds what follows it, else from a
    /// snapshot with `reset`. Subscribers that come during the read wait for the next
    /// one, so a bounds read always began after the subscribe it answers.
    fn read_bounds(&mut self, topic: Topic, ctx: &mut Context<Self>) {
        let Some(state) = self.topics.get_mut(&topic) else {
            return;
        };
        let waiting = std::mem::take(&mut state.bounds_waiting);
        state.bounds_reading = true;
        let store = self.store.clone();
        let max_replay = self.settings.max_replay;
        ctx.spawn(
            async move { store.log_bounds(topic).await }
                .into_actor(self)
                .map(move |bounds, act, ctx| {
                    for (mut waiter, since) in waiting {
                        match &bounds {
                            Ok(bounds) if bounds.can_resume_from(since, max_replay) => {
                                let reply = SubscribeReply {
                                    seq: since,
                                    snapshot: None,
                                    reset: false,
                                };
                                let start = Start {
                                    head: bounds.head,
                                    after: since,
                                    reply,
                                };
                                act.started(topic, waiter, Ok(start), ctx);
                            }
                            Ok(_) => {
                                waiter.reset = true;
                                act.snapshot_for(topic, waiter, ctx);
                            }
                            Err(e) => act.started(topic, waiter, Err(e.body()), ctx),
                        }
                    }
                    let Some(state) = act.topics.get_mut(&topic) else {
                        return;
                    };
                    state.bounds_reading = false;
                    if state.bounds_waiting.is_empty() {
                        act.forget_if_unused(topic);
                    } else {
                        act.read_bounds(topic, ctx);
                    }
                }),
        );
    }

    /// Serves a subscriber a snapshot: the cached one of a shared topic while it is
    /// recent, else one read (shared by every subscriber waiting meanwhile).
    fn snapshot_for(&mut self, topic: Topic, waiter: Waiter, ctx: &mut Context<Self>) {
        let fresh_within = (self.settings.recent_events / 2) as u64;
        let Some(state) = self.topics.get_mut(&topic) else {
            return;
        };
        if let Some((seq, snapshot)) = &state.snapshot {
            if state
                .order
                .head()
                .is_none_or(|head| head.saturating_sub(*seq) <= fresh_within)
            {
                let start = Start::snapshot(*seq, snapshot.clone(), waiter.reset);
                return self.started(topic, waiter, Ok(start), ctx);
            }
        }
        state.snapshot_waiters.push(waiter);
        if state.snapshot_waiters.len() > 1 {
            return;
        }
        let store = self.store.clone();
        ctx.spawn(
            async move { store.snapshot(topic).await }
                .into_actor(self)
                .map(move |read, act, ctx| {
                    let Some(state) = act.topics.get_mut(&topic) else {
                        return;
                    };
                    let waiters = std::mem::take(&mut state.snapshot_waiters);
                    let read = read.map_err(|e| {
                        tracing::warn!(%topic, error = %e, "reading a snapshot failed");
                        e.body()
                    });
                    if !matches!(topic, Topic::Member(_)) {
                        state.snapshot = read.as_ref().ok().cloned();
                    }
                    for waiter in waiters {
                        let start = read
                            .clone()
                            .map(|(seq, snapshot)| Start::snapshot(seq, snapshot, waiter.reset));
                        act.started(topic, waiter, start, ctx);
                    }
                    // Waiters that left meanwhile may have been the topic's last readers.
                    act.forget_if_unused(topic);
                }),
        );
    }

    fn started(
        &mut self,
        topic: Topic,
        waiter: Waiter,
        start: Result<Start, ErrorBody>,
        ctx: &mut Context<Self>,
    ) {
        let Waiter {
            session,
            generation,
            request,
            ..
        } = waiter;
        let current = self
            .topics
            .get(&topic)
            .and_then(|s| s.attaching.get(&session.id))
            .is_some_and(|a| a.generation == generation);
        if !current {
            return;
        }
        match start {
            Ok(start) => {
                self.learn_head(topic, start.head, ctx);
                let reply = ToSession::Subscribed {
                    request,
                    topic,
                    result: Ok(start.reply),
                };
                if session.send(reply) {
                    self.attach(topic, session.id, generation, start.after, ctx);
                } else {
                    self.drop_subscriber(topic, session.id);
                }
            }
            Err(error) => {
                let reply = ToSession::Subscribed {
                    request,
                    topic,
                    result: Err(error),
                };
                session.send(reply);
                self.drop_subscriber(topic, session.id);
            }
        }
    }
}

impl Actor for TopicOwner {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = (self.settings.idle_after / 2).max(Duration::from_millis(50));
        ctx.run_interval(every, |act, _| {
            if act.topics.is_empty() && act.idle_since.elapsed() >= act.settings.idle_after {
                act.idle.do_send(OwnerIdle {
                    key: act.key,
                    subscribes_seen: act.subscribes_seen,
                });
            }
        });
    }
}

impl Handler<Subscribe> for TopicOwner {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) {
        self.subscribes_seen += 1;
        self.generation += 1;
        let generation = self.generation;
        let Subscribe {
            session,
            request,
            topic,
            since,
        } = msg;
        let ring = self.settings.recent_events;
        let state = self
            .topics
            .entry(topic)
            .or_insert_with(|| Box::new(TopicState::new(ring)));
        state.live.remove(&session.id);
        state.attaching.insert(
            session.id,
            Attaching {
                session: session.clone(),
                generation,
            },
        );
        let waiter = Waiter {
            session,
            generation,
            request,
            reset: false,
        };
        let Some(since) = since else {
            return self.snapshot_for(topic, waiter, ctx);
        };
        state.bounds_waiting.push((waiter, since));
        if !state.bounds_reading {
            self.read_bounds(topic, ctx);
        }
    }
}

impl Handler<Unsubscribe> for TopicOwner {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Self::Context) {
        self.drop_subscriber(msg.topic, msg.session_id);
    }
}

impl Handler<Announce> for TopicOwner {
    type Result = ();

    fn handle(&mut self, msg: Announce, ctx: &mut Self::Context) {
        let topic = msg.topic();
        let seq = msg.seq();
        let Some(state) = self.topics.get_mut(&topic) else {
            return;
        };
        let event = match msg {
            Announce::Event(e) => Some(e),
            Announce::SeqOnly { .. } => None,
        };
        let next = state.order.announce(seq, event);
        self.run(topic, next, ctx);
    }
}

impl Handler<Resync> for TopicOwner {
    type Result = ();

    fn handle(&mut self, _: Resync, ctx: &mut Self::Context) {
        let topics: Vec<Topic> = self.topics.keys().copied().collect();
        for topic in topics {
            self.resync(topic, ctx);
        }
    }
}

impl Handler<StopOwner> for TopicOwner {
    type Result = ();

    fn handle(&mut self, _: StopOwner, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
