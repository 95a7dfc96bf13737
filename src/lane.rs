//! The lane of a worker thread: the one way owners and the registry reach the sessions
//! running on it. An event for thousands of subscribers is one message per thread,
//! drained here and written into each session's [`Writer`] directly — no message per
//! session, no session woken — then each socket written once for everything drained
//! together. What only the session can do (close, re-check its topics, wait for a slow
//! socket) is passed on to the session actor.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::io;
use std::rc::Rc;
use std::sync::Arc;

use actix::WeakAddr;
use gonghui_actors::hub::messages::{Delivery, Lane, ToSession};
use gonghui_actors::metrics::{seconds_since, Metrics};
use prometheus::local::LocalHistogram;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::session::{Notice, Session, Writer};
use crate::socket::Sent;

/// Deliveries drained before the sockets they wrote to are sent, so one busy lane
/// cannot hold a socket's writes back for long.
const DRAIN: usize = 64;

/// A session as its lane knows it.
struct Member {
    writer: Rc<Writer>,
    session: WeakAddr<Session>,
}

type Members = Rc<RefCell<HashMap<u64, Member>>>;

thread_local! {
    static HERE: OnceCell<(Lane, Members)> = const { OnceCell::new() };
}

/// Opens this thread's lane and starts draining it.
fn open(metrics: Arc<Metrics>) -> (Lane, Members) {
    let (lane, deliveries) = Lane::new();
    let members = Members::default();
    actix::spawn(drain(deliveries, members.clone(), metrics));
    (lane, members)
}

/// Makes a session on this thread reachable through its lane, which it returns (opened
/// by the thread's first session, counting into its node's `metrics`).
pub fn join(
    id: u64,
    writer: Rc<Writer>,
    session: WeakAddr<Session>,
    metrics: &Arc<Metrics>,
) -> Lane {
    HERE.with(|here| {
        let (lane, members) = here.get_or_init(|| open(metrics.clone()));
        members.borrow_mut().insert(id, Member { writer, session });
        lane.clone()
    })
}

/// Forgets a session that stopped; what is still on its way to it is dropped. (A thread
/// that is ending may have let its lane go already: then there is nothing to forget.)
pub fn leave(id: u64) {
    let _ = HERE.try_with(|here| {
        if let Some((_, members)) = here.get() {
            members.borrow_mut().remove(&id);
        }
    });
}

/// What a lane counts while it drains, added to the node's series after each drain.
struct Tally {
    metrics: Arc<Metrics>,
    delivered: Cell<u64>,
    dropped: Cell<u64>,
    depth: LocalHistogram,
    lag: LocalHistogram,
}

impl Tally {
    fn new(metrics: Arc<Metrics>) -> Self {
        Tally {
            depth: metrics.queue_depth.local(),
            lag: metrics.fanout_lag.local(),
            delivered: Cell::default(),
            dropped: Cell::default(),
            metrics,
        }
    }

    /// The members among `ids` still taking events; the others are counted as dropped.
    fn taking<'a>(
        &'a self,
        ids: &'a [u64],
        members: &'a HashMap<u64, Member>,
    ) -> impl Iterator<Item = &'a Member> + 'a {
        ids.iter().filter_map(|id| match members.get(id) {
            Some(member) if !member.writer.is_closing() => Some(member),
            _ => {
                self.dropped.set(self.dropped.get() + 1);
                None
            }
        })
    }

    fn delivered(&self, written: bool) {
        self.delivered
            .set(self.delivered.get() + u64::from(written));
    }

    /// Adds what was counted to the node's series.
    fn flush(&self) {
        self.metrics.delivered.inc_by(self.delivered.take());
        self.metrics.dropped.inc_by(self.dropped.take());
        self.depth.flush();
        self.lag.flush();
    }
}

/// Takes what arrived together and writes it; a lone event (a lane keeping up) is
/// written to each socket at once, several are queued per socket and written once.
async fn drain(
    mut deliveries: UnboundedReceiver<Delivery>,
    members: Members,
    metrics: Arc<Metrics>,
) {
    let tally = Tally::new(metrics);
    let mut drained = Vec::with_capacity(DRAIN);
    let mut due: Vec<(Rc<Writer>, WeakAddr<Session>)> = Vec::new();
    let mut times = Vec::new();
    while let Some(first) = deliveries.recv().await {
        drained.push(first);
        while drained.len() < DRAIN {
            match deliveries.try_recv() {
                Ok(delivery) => drained.push(delivery),
                Err(_) => break,
            }
        }
        times.extend(drained.iter().filter_map(|d| match d {
            Delivery::Event(event, _) => Some(event.frame.at),
            Delivery::To(..) => None,
        }));
        {
            let members = members.borrow();
            if let [Delivery::Event(event, ids)] = drained.as_slice() {
                for member in tally.taking(ids, &members) {
                    if let Some(written) = member.writer.event_now(event) {
                        tally.delivered(true);
                        follow_up(&member.writer, &member.session, written, &tally);
                    }
                }
                drained.clear();
            }
            for delivery in drained.drain(..) {
                deliver(delivery, &members, &mut due, &tally);
            }
        }
        for (writer, session) in due.drain(..) {
            let written = writer.send();
            follow_up(&writer, &session, written, &tally);
        }
        for at in times.drain(..) {
            tally.lag.observe(seconds_since(at));
        }
        tally.flush();
    }
}

fn deliver(
    delivery: Delivery,
    members: &HashMap<u64, Member>,
    due: &mut Vec<(Rc<Writer>, WeakAddr<Session>)>,
    tally: &Tally,
) {
    let mut written = |member: &Member, queued: bool| {
        if queued && member.writer.make_due() {
            due.push((member.writer.clone(), member.session.clone()));
        }
    };
    match delivery {
        Delivery::Event(event, ids) => {
            for member in tally.taking(&ids, members) {
                let queued = member.writer.event(&event);
                tally.delivered(queued);
                written(member, queued);
            }
        }
        Delivery::To(id, msg) => {
            let Some(member) = members.get(&id) else {
                return;
            };
            match msg {
                ToSession::Subscribed {
                    request, result, ..
                } => {
                    let result =
                        result.map(|reply| serde_json::to_value(reply).expect("plain JSON"));
                    written(member, member.writer.reply(request, result));
                }
                ToSession::Batch(events) => {
                    let mut queued = false;
                    for event in &events {
                        let written = member.writer.event(event);
                        tally.delivered(written);
                        queued |= written;
                    }
                    written(member, queued);
                }
                ToSession::Recheck => tell(&member.session, Notice::Recheck),
                ToSession::Close { code, reason } => {
                    tell(&member.session, Notice::Close { code, reason })
                }
            }
        }
    }
}

/// Tells the session of a write that left something waiting, or failed; counts what
/// waits.
fn follow_up(
    writer: &Writer,
    session: &WeakAddr<Session>,
    written: io::Result<Sent>,
    tally: &Tally,
) {
    if matches!(written, Ok(Sent::All)) {
        tally.depth.observe(0.0);
    } else {
        tally.depth.observe(writer.waiting() as f64);
        tell(session, Notice::Unsent(written));
    }
}

fn tell(session: &WeakAddr<Session>, notice: Notice) {
    if let Some(session) = session.upgrade() {
        session.do_send(notice);
    }
}
