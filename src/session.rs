//! The WebSocket session actor: frames in, replies out. It holds no state of its own
//! beyond who it is and what it subscribed to. It owns its socket ([`crate::socket`]):
//! frames arrive as a stream; what is sent goes through its [`Writer`], which its
//! thread's lane ([`crate::lane`]) writes events and subscribe replies into directly —
//! owners never message the session itself. Just over 500 lines: its handlers are one
//! actor (the frame budget is in `budget.rs`, the sending half in `writer.rs`).
//!
//! Slow readers: what the kernel cannot take waits in the session's outbox; when more
//! than the session queue's worth of writes wait (the socket is not draining), it is
//! closed with 4008 after what already waits.
//!
//! # Limits
//! A socket is bounded in what it can make the node do: frames are rate-limited (a
//! burst of [`BURST`](budget::BURST), then [`PER_SECOND`](budget::PER_SECOND) a second; beyond, each gets a `rate_limited`
//! error, and [`MAX_REFUSED`](budget::MAX_REFUSED) refusals in a row close it with 4029); it holds at most
//! [`MAX_TOPICS`] subscriptions; and its subscribes are checked one at a time, with at
//! most [`MAX_WAITING`] waiting, so one socket can never hold more than one database
//! connection for its checks. Re-checks after a change of rights run one at a time too.

pub mod anonymous;
mod budget;
mod writer;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason, Frame, Item, ProtocolError};
use actix_web::web;
use bytes::BytesMut;
use gonghui_actors::hub::messages::{
    Lane, SessionClosed, SessionOpened, SessionRef, Subscribe, Unsubscribe,
};
use gonghui_actors::store::tokens::Principal;
use gonghui_actors::Error;
use gonghui_protocol::dto::HelloReply;
use gonghui_protocol::{
    close, decode, request_id, ClientMsg, Codec, ErrorBody, RequestId, ServerMsg, Topic,
};
use serde_json::json;

use crate::lane;
use crate::socket::{Frames, Out, Sent, Socket};
use crate::state::AppState;
use anonymous::Admission;
use budget::{FrameBudget, Verdict, PER_SECOND};
pub use writer::Writer;

/// How often the server pings an idle client.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// A client silent this long is gone.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(75);
/// Frames a client may send after hello before hello's answer.
const MAX_EARLY: usize = 32;
/// Subscriptions one socket may hold.
pub const MAX_TOPICS: usize = 256;
/// Subscribes waiting for their check; beyond, they are refused with `rate_limited`.
pub const MAX_WAITING: usize = 32;
/// Tries of a re-check that fails before its subscription is ended.
const RECHECK_TRIES: u32 = 3;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One WebSocket connection.
pub struct Session {
    id: u64,
    codec: Codec,
    state: web::Data<AppState>,
    principal: Option<Principal>,
    /// Frames that arrived while hello was being checked, handled once it succeeds.
    early: Option<Vec<ClientMsg>>,
    last_heard: Instant,
    /// Frames the client may still send.
    budget: FrameBudget,
    /// Authorisation checks waiting their turn, the running one first.
    pending: VecDeque<Pending>,
    /// Whether the first of `pending` is being checked.
    checking: bool,
    /// Where frames go out, shared with the thread's lane.
    writer: Rc<Writer>,
    /// The way owners reach this session.
    lane: Lane,
    /// Whether a flush waits for the socket to take more.
    flushing: bool,
    /// The timer that closes a socket saying no hello in time.
    hello_deadline: Option<SpawnHandle>,
    /// The socket's place among its address's anonymous ones, until hello succeeds.
    anonymous: Option<Admission>,
    /// When the socket opened, for the access log.
    opened: Instant,
    /// The close code sent (the server's, or the client's echoed), for the access log.
    ended_with: Option<u16>,
}

/// An authorisation check of a socket; a socket runs one at a time.
enum Pending {
    /// A subscribe, answered with the check's outcome.
    Subscribe {
        /// The request's id.
        id: RequestId,
        /// What it asks for.
        topic: Topic,
        /// Its resume point.
        since: Option<u64>,
    },
    /// A topic held, checked again after a change of rights.
    Recheck(Topic),
}

impl Pending {
    fn topic(&self) -> Topic {
        match self {
            Pending::Subscribe { topic, .. } | Pending::Recheck(topic) => *topic,
        }
    }
}

impl Session {
    /// Starts a session speaking `codec` on an upgraded socket, not yet authenticated;
    /// `early` holds bytes the handshake read past its end.
    pub fn start(
        socket: Rc<Socket>,
        early: BytesMut,
        codec: Codec,
        anonymous: Admission,
        state: web::Data<AppState>,
    ) {
        Session::create(|ctx| {
            ctx.add_stream(Frames::new(socket.clone(), early, state.ws.max_frame));
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let writer = Rc::new(Writer::new(socket, codec));
            let lane = lane::join(
                id,
                writer.clone(),
                ctx.address().downgrade(),
                state.store.metrics(),
            );
            Session {
                id,
                codec,
                state,
                principal: None,
                early: None,
                last_heard: Instant::now(),
                budget: FrameBudget::new(Instant::now()),
                pending: VecDeque::new(),
                checking: false,
                writer,
                lane,
                flushing: false,
                hello_deadline: None,
                anonymous: Some(anonymous),
                opened: Instant::now(),
                ended_with: None,
            }
        });
    }

    /// Holds `topic`, counted in `gonghui_subscriptions`.
    fn hold(&self, topic: Topic) {
        if self.writer.topics().borrow_mut().insert(topic) {
            self.state.store.metrics().subscriptions.inc();
        }
    }

    /// Lets `topic` go; false when it was not held.
    fn let_go(&self, topic: Topic) -> bool {
        let held = self.writer.topics().borrow_mut().remove(topic);
        if held {
            self.state.store.metrics().subscriptions.dec();
        }
        held
    }

    /// Answers a frame that cannot be served: a reply to its request when its `id` can
    /// be read, else an error frame.
    fn refuse(&mut self, ctx: &mut Context<Self>, payload: &[u8], error: ErrorBody) {
        match request_id(self.codec, payload) {
            Some(id) => self.reply(ctx, id, Err(error)),
            None => self.write(ctx, &ServerMsg::Error { error }),
        }
    }

    fn write(&mut self, ctx: &mut Context<Self>, msg: &ServerMsg) {
        let queued = self.writer.write(msg);
        self.send_soon(ctx, queued);
    }

    fn push<'a>(&mut self, ctx: &mut Context<Self>, frames: impl IntoIterator<Item = Out<'a>>) {
        let queued = self.writer.queue(frames);
        self.send_soon(ctx, queued);
    }

    /// Sends what was queued once the mailbox is drained, so what a session queues while
    /// it handles its mailbox goes out in one write.
    fn send_soon(&mut self, ctx: &mut Context<Self>, queued: bool) {
        if queued && self.writer.make_due() {
            // Spawned futures run after the mailbox is drained, in the same poll.
            ctx.spawn(fut::ready(()).map(|(), act: &mut Self, ctx| {
                let written = act.writer.send();
                act.sent(written, ctx);
            }));
        }
    }

    /// Follows a write up: a socket that has not drained more than the queue's worth of
    /// writes is closed with 4008, one that has some waiting is flushed when writable.
    fn sent(&mut self, written: io::Result<Sent>, ctx: &mut Context<Self>) {
        match written {
            Ok(Sent::All) => {}
            Ok(Sent::Waiting) if self.writer.waiting() > self.state.ws.queue => {
                self.close(ctx, close::TOO_SLOW, "too slow: resume with since")
            }
            Ok(Sent::Waiting) => self.flush_when_writable(ctx),
            Err(_) => ctx.stop(),
        }
    }

    fn flush_when_writable(&mut self, ctx: &mut Context<Self>) {
        if self.flushing {
            return;
        }
        self.flushing = true;
        let writable = fut::wrap_future(self.writer.writable());
        ctx.spawn(writable.map(|ready, act: &mut Self, ctx| {
            act.flushing = false;
            match ready.and_then(|()| act.writer.flush()) {
                Ok(Sent::All) => {}
                Ok(Sent::Waiting) => act.flush_when_writable(ctx),
                Err(_) => ctx.stop(),
            }
        }));
    }

    fn reply(
        &mut self,
        ctx: &mut Context<Self>,
        id: RequestId,
        result: Result<serde_json::Value, ErrorBody>,
    ) {
        let queued = self.writer.reply(id, result);
        self.send_soon(ctx, queued);
    }

    fn close(&mut self, ctx: &mut Context<Self>, code: u16, reason: &str) {
        let reason = CloseReason {
            code: CloseCode::Other(code),
            description: Some(reason.to_owned()),
        };
        self.end(ctx, Some(reason));
    }

    /// Sends the close frame after what waits and stops; the socket lingers for the
    /// client's close (see `stopped`).
    fn end(&mut self, ctx: &mut Context<Self>, reason: Option<CloseReason>) {
        if !self.writer.is_closing() {
            self.ended_with = reason.as_ref().map(|r| r.code.into());
        }
        self.writer.close(reason);
        ctx.stop();
    }

    /// Spends a frame that has no request to refuse (a ping, a fragment) from the budget:
    /// false when it is not to be served, and the socket is closed with 4029 when the
    /// client ignores the limit.
    fn spend(&mut self, ctx: &mut Context<Self>) -> bool {
        match self.budget.take(Instant::now()) {
            Verdict::Serve => true,
            Verdict::Refuse => false,
            Verdict::Close => {
                self.close_flooded(ctx);
                false
            }
        }
    }

    fn close_flooded(&mut self, ctx: &mut Context<Self>) {
        self.close(
            ctx,
            close::TOO_MANY,
            "too many frames; reconnect later, slower",
        );
    }

    fn on_frame(&mut self, payload: &[u8], ctx: &mut Context<Self>) {
        match self.budget.take(Instant::now()) {
            Verdict::Serve => {}
            Verdict::Refuse => {
                let why = format!("at most {PER_SECOND} frames a second; slow down");
                return self.refuse(ctx, payload, ErrorBody::new("rate_limited", why));
            }
            Verdict::Close => return self.close_flooded(ctx),
        }
        let msg = match decode::<ClientMsg>(self.codec, payload) {
            Ok(msg) => msg,
            Err(e) => {
                let text: String = e.to_string().chars().take(200).collect();
                return self.refuse(ctx, payload, ErrorBody::new("bad_request", text));
            }
        };
        if let Some(early) = &mut self.early {
            if early.len() < MAX_EARLY {
                early.push(msg);
            } else {
                self.close(
                    ctx,
                    close::TOO_SLOW,
                    "too many frames before hello completed",
                );
            }
            return;
        }
        self.handle(msg, ctx);
    }

    fn handle(&mut self, msg: ClientMsg, ctx: &mut Context<Self>) {
        match (msg, self.principal) {
            (ClientMsg::Hello { id, token, .. }, None) => self.hello(id, token, ctx),
            (ClientMsg::Hello { id, .. }, _) => {
                self.reply(
                    ctx,
                    id,
                    Err(ErrorBody::new("bad_request", "hello was already said")),
                );
            }
            (_, None) => self.close(ctx, close::UNAUTHENTICATED, "say hello with a token first"),
            (ClientMsg::Subscribe { id, topic, since }, Some(_)) => {
                self.subscribe(id, &topic, since, ctx)
            }
            (ClientMsg::Unsubscribe { id, topic }, Some(_)) => match topic.parse::<Topic>() {
                Ok(topic) => {
                    if self.let_go(topic) {
                        self.state.registry.do_send(Unsubscribe {
                            session_id: self.id,
                            topic,
                        });
                    }
                    self.reply(ctx, id, Ok(json!({})));
                }
                Err(e) => self.reply(ctx, id, Err(ErrorBody::new("bad_request", e.to_string()))),
            },
            (ClientMsg::Ping { id }, Some(_)) => self.reply(ctx, id, Ok(json!({}))),
        }
    }

    fn hello(&mut self, id: RequestId, token: String, ctx: &mut Context<Self>) {
        self.early = Some(Vec::new());
        let store = self.state.store.clone();
        let registry = self.state.registry.clone();
        let session = SessionRef {
            id: self.id,
            lane: self.lane.clone(),
        };
        let work = async move {
            let principal = store.authenticate(&token).await?;
            let topics = store.readable_topics(principal.user_id).await?;
            let opened = SessionOpened {
                session,
                token_id: principal.token_id,
                user_id: principal.user_id,
                client: principal.client,
            };
            let admitted = registry.send(opened).await.unwrap_or(false);
            Ok::<_, Error>((principal, topics, admitted))
        };
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            let early = act.early.take().unwrap_or_default();
            match result {
                Ok((principal, _, false)) => act.close(
                    ctx,
                    close::TOO_MANY,
                    &format!(
                        "too many sockets for this user on the {}; close one, or reconnect later",
                        principal.client.as_str()
                    ),
                ),
                Ok((principal, topics, true)) => {
                    act.principal = Some(principal);
                    act.anonymous = None;
                    // An idle session keeps as few timers as it can.
                    if let Some(deadline) = act.hello_deadline.take() {
                        ctx.cancel_future(deadline);
                    }
                    let left = (principal.expires_at - chrono::Utc::now())
                        .to_std()
                        .unwrap_or_default();
                    ctx.run_later(left, |act, ctx| {
                        act.close(ctx, close::UNAUTHENTICATED, "the token expired")
                    });
                    let data = HelloReply {
                        user_id: principal.user_id,
                        session_id: act.id.to_string(),
                        topics,
                    };
                    act.reply(ctx, id, Ok(serde_json::to_value(data).expect("plain JSON")));
                    for msg in early {
                        act.handle(msg, ctx);
                    }
                }
                Err(Error::Unauthenticated(why)) => act.close(ctx, close::UNAUTHENTICATED, &why),
                Err(e) => {
                    act.reply(ctx, id, Err(e.body()));
                    act.close(ctx, close::TRY_AGAIN, "try again later");
                }
            }
        }));
    }

    fn subscribe(
        &mut self,
        id: RequestId,
        topic: &str,
        since: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        let topic = match topic.parse::<Topic>() {
            Ok(topic) => topic,
            Err(e) => {
                return self.reply(ctx, id, Err(ErrorBody::new("bad_request", e.to_string())))
            }
        };
        let waiting = self
            .pending
            .iter()
            .filter(|p| matches!(p, Pending::Subscribe { .. }))
            .count();
        let full = {
            let topics = self.writer.topics().borrow();
            !topics.contains(topic) && topics.count() + waiting >= MAX_TOPICS
        };
        if full {
            let why = format!("a socket holds at most {MAX_TOPICS} subscriptions");
            return self.reply(ctx, id, Err(ErrorBody::new("too_large", why)));
        }
        if waiting >= MAX_WAITING {
            let why = format!("at most {MAX_WAITING} subscribes may wait; wait for their replies");
            return self.reply(ctx, id, Err(ErrorBody::new("rate_limited", why)));
        }
        self.pending
            .push_back(Pending::Subscribe { id, topic, since });
        self.check_next(ctx);
    }

    /// Starts the first pending check unless one is running.
    fn check_next(&mut self, ctx: &mut Context<Self>) {
        if !self.checking {
            self.run_check(1, ctx);
        }
    }

    /// Checks the first pending subscribe or re-check. A re-check that fails (the
    /// database is busy or away) is tried again a second later, and after
    /// [`RECHECK_TRIES`] its subscription ends with `unavailable`: a right that may have
    /// been taken away is never kept unchecked.
    fn run_check(&mut self, attempt: u32, ctx: &mut Context<Self>) {
        let (Some(principal), Some(pending)) = (self.principal, self.pending.front()) else {
            self.checking = false;
            // Most sessions subscribe once or twice and then sit idle for hours.
            self.pending = VecDeque::new();
            return;
        };
        self.checking = true;
        let topic = pending.topic();
        let store = self.state.store.clone();
        let check = async move { store.can_read(principal.user_id, topic).await };
        ctx.spawn(check.into_actor(self).map(move |allowed, act, ctx| {
            let is_recheck = matches!(act.pending.front(), Some(Pending::Recheck(_)));
            if is_recheck && allowed.is_err() && attempt < RECHECK_TRIES {
                ctx.run_later(Duration::from_secs(1), move |act, ctx| {
                    act.run_check(attempt + 1, ctx)
                });
                return;
            }
            match act.pending.pop_front() {
                Some(Pending::Subscribe { id, topic, since }) => {
                    act.subscribed(id, topic, since, allowed, ctx)
                }
                Some(Pending::Recheck(topic)) => act.rechecked(topic, allowed, ctx),
                None => {}
            }
            act.run_check(1, ctx);
        }));
    }

    /// Answers a subscribe with its check's outcome, subscribing when allowed.
    fn subscribed(
        &mut self,
        id: RequestId,
        topic: Topic,
        since: Option<u64>,
        allowed: Result<bool, Error>,
        ctx: &mut Context<Self>,
    ) {
        match allowed {
            Ok(true) => {
                self.hold(topic);
                let session = SessionRef {
                    id: self.id,
                    lane: self.lane.clone(),
                };
                self.state.registry.do_send(Subscribe {
                    session,
                    request: id,
                    topic,
                    since,
                });
            }
            Ok(false) => self.reply(
                ctx,
                id,
                Err(ErrorBody::new(
                    "forbidden",
                    format!("you may not read {topic}"),
                )),
            ),
            Err(e) => self.reply(ctx, id, Err(e.body())),
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let deadline = ctx.run_later(self.state.ws.hello_timeout, |act, ctx| {
            if act.principal.is_none() {
                act.close(ctx, close::UNAUTHENTICATED, "no hello in time");
            }
        });
        self.hello_deadline = Some(deadline);
        ctx.run_interval(HEARTBEAT, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                ctx.stop();
            } else {
                act.push(ctx, [Out::Ping]);
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        lane::leave(self.id);
        tracing::info!(
            target: "gonghui::access",
            session = self.id,
            user = self.principal.map(|p| p.user_id),
            client = self.principal.map(|p| p.client.as_str()),
            code = self.ended_with,
            secs = self.opened.elapsed().as_secs(),
            "socket ended"
        );
        let topics = self.writer.topics().borrow_mut().take();
        let metrics = self.state.store.metrics();
        metrics.subscriptions.sub(topics.len() as i64);
        metrics
            .sessions_closed
            .with_label_values(&[&code_label(self.ended_with)])
            .inc();
        self.state.registry.do_send(SessionClosed {
            session_id: self.id,
            topics,
        });
        if self.writer.is_closing() {
            actix::spawn(self.writer.linger());
        }
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for Session {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match item {
            Ok(Frame::Text(text)) => match std::str::from_utf8(&text) {
                Ok(_) => self.on_frame(&text, ctx),
                Err(_) => self.close(ctx, 1007, "text frames must be UTF-8"),
            },
            Ok(Frame::Binary(bytes)) => self.on_frame(&bytes, ctx),
            Ok(Frame::Ping(payload)) => {
                if self.spend(ctx) {
                    self.push(ctx, [Out::Pong(&payload)]);
                }
            }
            Ok(Frame::Pong(_)) => {}
            // Counted like any frame, and answered once, when the message is complete.
            Ok(Frame::Continuation(item)) => {
                if self.spend(ctx) && matches!(item, Item::Last(_)) {
                    self.write(
                        ctx,
                        &ServerMsg::Error {
                            error: ErrorBody::new("bad_request", "fragmented frames are not read"),
                        },
                    );
                }
            }
            // Echo the close (RFC 6455 §5.5.1), so the client sees its own code, not 1006.
            Ok(Frame::Close(reason)) => self.end(ctx, reason),
            Err(ProtocolError::Overflow) => {
                self.close(ctx, close::TOO_LARGE, "frames are limited to 64 KiB")
            }
            Err(e) => self.close(ctx, 1002, &e.to_string()),
        }
    }
}

/// What a session's lane passes on to the session actor.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Notice {
    /// Check the topics again (see [`ToSession::Recheck`](gonghui_actors::hub::messages::ToSession)).
    Recheck,
    /// Close the socket with this code.
    Close {
        /// The WebSocket close code.
        code: u16,
        /// Why, for the client.
        reason: &'static str,
    },
    /// A write of the lane's left something waiting, or failed.
    Unsent(io::Result<Sent>),
}

impl Handler<Notice> for Session {
    type Result = ();

    fn handle(&mut self, notice: Notice, ctx: &mut Self::Context) {
        match notice {
            Notice::Recheck => self.recheck(ctx),
            Notice::Close { code, reason } => self.close(ctx, code, reason),
            Notice::Unsent(written) => self.sent(written, ctx),
        }
    }
}

impl Session {
    /// Checks the session's topics again and ends, with an `unsubscribed` frame, each
    /// the user may no longer read. Their own member topic always stays.
    fn recheck(&mut self, ctx: &mut Context<Self>) {
        for topic in self.writer.topics().borrow().iter() {
            let queued = self
                .pending
                .iter()
                .any(|p| matches!(p, Pending::Recheck(t) if *t == topic));
            if !matches!(topic, Topic::Member(_)) && !queued {
                self.pending.push_back(Pending::Recheck(topic));
            }
        }
        self.check_next(ctx);
    }

    /// Ends a held topic whose re-check refused it (or could not be made), with an
    /// `unsubscribed` frame.
    fn rechecked(&mut self, topic: Topic, allowed: Result<bool, Error>, ctx: &mut Context<Self>) {
        let error = match allowed {
            Ok(true) => return,
            Ok(false) => ErrorBody::new("forbidden", format!("you may no longer read {topic}")),
            Err(e) => ErrorBody::new(
                "unavailable",
                format!(
                    "{topic} could not be checked again ({}); subscribe again later",
                    e.public_message()
                ),
            ),
        };
        if !self.let_go(topic) {
            return;
        }
        self.state.registry.do_send(Unsubscribe {
            session_id: self.id,
            topic,
        });
        self.write(
            ctx,
            &ServerMsg::Unsubscribed {
                topic: topic.to_string(),
                error,
            },
        );
    }
}

/// A close code as a label: RFC 6455's own and gonghui's by number, `none` for a dropped
/// connection, any other as `other` (a client may close with any code it likes, and the
/// code it sent is echoed).
fn code_label(code: Option<u16>) -> Cow<'static, str> {
    match code {
        None => "none".into(),
        Some(code @ (1000..=1015 | close::UNAUTHENTICATED | close::TOO_SLOW | close::TOO_MANY)) => {
            code.to_string().into()
        }
        Some(_) => "other".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::code_label;

    #[test]
    fn a_clients_own_close_codes_share_one_label() {
        assert_eq!(code_label(None), "none");
        assert_eq!(code_label(Some(1001)), "1001");
        assert_eq!(code_label(Some(4008)), "4008");
        assert_eq!(code_label(Some(3999)), "other");
        assert_eq!(code_label(Some(4500)), "other");
    }
}
