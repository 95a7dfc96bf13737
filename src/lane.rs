//! The lane of a worker thread: the one way owners and the registry reach the sessions
//! running on it. An event for thousands of subscribers is one message per thread,
//! drained here and written into each session's [`Writer`] directly — no message per
//! session, no session woken — then each socket written once for everything drained
//! together. What only the session can do (close, re-check its topics, wait for a slow
//! socket) is passed on to the session actor.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::rc::Rc;

use actix::WeakAddr;
use gonghui_actors::hub::messages::{Delivery, Lane, ToSession};
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
    static HERE: (Lane, Members) = open();
}

/// Opens this thread's lane and starts draining it.
fn open() -> (Lane, Members) {
    let (lane, deliveries) = Lane::new();
    let members = Members::default();
    actix::spawn(drain(deliveries, members.clone()));
    (lane, members)
}

/// Makes a session on this thread reachable through its lane, which it returns.
pub fn join(id: u64, writer: Rc<Writer>, session: WeakAddr<Session>) -> Lane {
    HERE.with(|(lane, members)| {
        members.borrow_mut().insert(id, Member { writer, session });
        lane.clone()
    })
}

/// Forgets a session that stopped; what is still on its way to it is dropped. (A thread
/// that is ending may have let its lane go already: then there is nothing to forget.)
pub fn leave(id: u64) {
    let _ = HERE.try_with(|(_, members)| members.borrow_mut().remove(&id));
}

/// Takes what arrived together and writes it; a lone event (a lane keeping up) is
/// written to each socket at once, several are queued per socket and written once.
async fn drain(mut deliveries: UnboundedReceiver<Delivery>, members: Members) {
    let mut drained = Vec::with_capacity(DRAIN);
    let mut due: Vec<(Rc<Writer>, WeakAddr<Session>)> = Vec::new();
    while let Some(first) = deliveries.recv().await {
        drained.push(first);
        while drained.len() < DRAIN {
            match deliveries.try_recv() {
                Ok(delivery) => drained.push(delivery),
                Err(_) => break,
            }
        }
        {
            let members = members.borrow();
            if let [Delivery::Event(event, ids)] = drained.as_slice() {
                for member in ids.iter().filter_map(|id| members.get(id)) {
                    if let Some(written) = member.writer.event_now(event) {
                        follow_up(&member.session, written);
                    }
                }
                drained.clear();
            }
            for delivery in drained.drain(..) {
                deliver(delivery, &members, &mut due);
            }
        }
        for (writer, session) in due.drain(..) {
            follow_up(&session, writer.send());
        }
    }
}

fn deliver(
    delivery: Delivery,
    members: &HashMap<u64, Member>,
    due: &mut Vec<(Rc<Writer>, WeakAddr<Session>)>,
) {
    let mut written = |member: &Member, queued: bool| {
        if queued && member.writer.make_due() {
            due.push((member.writer.clone(), member.session.clone()));
        }
    };
    match delivery {
        Delivery::Event(event, ids) => {
            for member in ids.iter().filter_map(|id| members.get(id)) {
                written(member, member.writer.event(&event));
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
                        queued |= member.writer.event(event);
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

/// Tells the session of a write that left something waiting, or failed.
fn follow_up(session: &WeakAddr<Session>, written: io::Result<Sent>) {
    if !matches!(written, Ok(Sent::All)) {
        tell(session, Notice::Unsent(written));
    }
}

fn tell(session: &WeakAddr<Session>, notice: Notice) {
    if let Some(session) = session.upgrade() {
        session.do_send(notice);
    }
}
