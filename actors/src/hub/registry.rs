//! The registry: one per node. It starts a [`TopicOwner`] for a union or member on the
//! first subscribe, forwards announcements to the owner of their topic (dropping those
//! nobody on this node reads), stops owners that have been idle, and knows every session
//! so logout and shutdown can close them.

use std::collections::HashMap;

use actix::prelude::*;
use gonghui_protocol::{close, ClientKind};

use super::messages::{
    AccessChanged, Announce, OwnerIdle, OwnerKey, Resync, SessionClosed, SessionOpened, SessionRef,
    Shutdown, StopOwner, Subscribe, ToSession, TokenRevoked, Unsubscribe,
};
use super::owner::TopicOwner;
use super::HubSettings;
use crate::store::rights::AccessChange;
use crate::store::Store;

struct OwnerEntry {
    addr: Addr<TopicOwner>,
    /// Subscribes forwarded, compared with what an idle owner has seen before stopping it.
    forwarded: u64,
}

/// The node's directory of owners and sessions.
pub struct Registry {
    store: Store,
    settings: HubSettings,
    arbiters: Vec<ArbiterHandle>,
    owners: HashMap<OwnerKey, OwnerEntry>,
    /// Every authenticated session.
    sessions: HashMap<u64, SessionEntry>,
    /// How many of those each user holds per client kind, so a hello is counted
    /// without walking every session.
    held: HashMap<(i64, ClientKind), usize>,
}

/// An authenticated session as the registry knows it.
struct SessionEntry {
    token_id: i64,
    user_id: i64,
    client: ClientKind,
    session: SessionRef,
}

/// How many owners and authenticated sessions this node holds, for `/readyz`.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Counts;

impl Handler<Counts> for Registry {
    type Result = MessageResult<Counts>;

    fn handle(&mut self, _: Counts, _: &mut Self::Context) -> Self::Result {
        MessageResult((self.owners.len(), self.sessions.len()))
    }
}

impl Registry {
    /// A registry spreading owners over `arbiters` (one per core is plenty).
    pub fn new(store: Store, settings: HubSettings, arbiters: Vec<ArbiterHandle>) -> Self {
        Registry {
            store,
            settings,
            arbiters,
            owners: HashMap::new(),
            sessions: HashMap::new(),
            held: HashMap::new(),
        }
    }

    fn owner(&mut self, key: OwnerKey, me: Addr<Self>) -> &mut OwnerEntry {
        let (store, settings, arbiters) = (&self.store, &self.settings, &self.arbiters);
        self.owners.entry(key).or_insert_with(|| {
            let owner = TopicOwner::new(key, store.clone(), settings.clone(), me.recipient());
            let slot = match key {
                OwnerKey::Union(id) | OwnerKey::Activity(id) => id.unsigned_abs() as usize,
                OwnerKey::Members(shard) => shard.into(),
            };
            let addr = match arbiters.get(slot % arbiters.len().max(1)) {
                Some(arbiter) => TopicOwner::start_in_arbiter(arbiter, move |_| owner),
                None => owner.start(),
            };
            store.metrics().topic_owners.inc();
            OwnerEntry { addr, forwarded: 0 }
        })
    }

    /// The gauge of authenticated sessions of `client`.
    fn sessions_of(&self, client: ClientKind) -> prometheus::IntGauge {
        self.store
            .metrics()
            .sessions
            .with_label_values(&[client.as_str()])
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<Subscribe> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) {
        let entry = self.owner(OwnerKey::of(msg.topic), ctx.address());
        entry.forwarded += 1;
        entry.addr.do_send(msg);
    }
}

impl Handler<Unsubscribe> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Self::Context) {
        if let Some(entry) = self.owners.get(&OwnerKey::of(msg.topic)) {
            entry.addr.do_send(msg);
        }
    }
}

impl Handler<Announce> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Announce, _: &mut Self::Context) {
        if let Some(entry) = self.owners.get(&OwnerKey::of(msg.topic())) {
            entry.addr.do_send(msg);
        }
    }
}

impl Handler<Resync> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Resync, ctx: &mut Self::Context) {
        // Rights changes and revocations announced while the bridge was away were not heard.
        self.store.rights().clear();
        self.store.tokens().clear();
        for entry in self.owners.values() {
            entry.addr.do_send(msg);
        }
        let tokens: Vec<i64> = self.sessions.values().map(|e| e.token_id).collect();
        if tokens.is_empty() {
            return;
        }
        let store = self.store.clone();
        ctx.spawn(
            async move { store.dead_tokens(&tokens).await }
                .into_actor(self)
                .map(|dead, act, _| match dead {
                    Ok(dead) => dead
                        .into_iter()
                        .for_each(|token_id| act.close_token(token_id)),
                    Err(e) => {
                        tracing::warn!(error = %e, "re-checking tokens after reconnect failed")
                    }
                }),
        );
    }
}

impl Registry {
    fn close_token(&mut self, token_id: i64) {
        for entry in self.sessions.values() {
            if entry.token_id == token_id {
                entry.session.send(ToSession::Close {
                    code: close::UNAUTHENTICATED,
                    reason: "logged out",
                });
            }
        }
    }
}

impl Handler<OwnerIdle> for Registry {
    type Result = ();

    fn handle(&mut self, msg: OwnerIdle, _: &mut Self::Context) {
        if self
            .owners
            .get(&msg.key)
            .is_some_and(|e| e.forwarded == msg.subscribes_seen)
        {
            if let Some(entry) = self.owners.remove(&msg.key) {
                self.store.metrics().topic_owners.dec();
                entry.addr.do_send(StopOwner);
            }
        }
    }
}

impl Handler<SessionOpened> for Registry {
    type Result = bool;

    fn handle(&mut self, msg: SessionOpened, _: &mut Self::Context) -> bool {
        let held = self.held.entry((msg.user_id, msg.client)).or_default();
        if *held >= self.settings.sockets_per_user {
            return false;
        }
        *held += 1;
        self.sessions_of(msg.client).inc();
        self.sessions.insert(
            msg.session.id,
            SessionEntry {
                token_id: msg.token_id,
                user_id: msg.user_id,
                client: msg.client,
                session: msg.session,
            },
        );
        true
    }
}

impl Handler<SessionClosed> for Registry {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, _: &mut Self::Context) {
        if let Some(gone) = self.sessions.remove(&msg.session_id) {
            self.sessions_of(gone.client).dec();
            let key = (gone.user_id, gone.client);
            if let Some(held) = self.held.get_mut(&key) {
                *held -= 1;
                if *held == 0 {
                    self.held.remove(&key);
                }
            }
        }
        for topic in msg.topics {
            if let Some(entry) = self.owners.get(&OwnerKey::of(topic)) {
                entry.addr.do_send(Unsubscribe {
                    session_id: msg.session_id,
                    topic,
                });
            }
        }
    }
}

impl Handler<TokenRevoked> for Registry {
    type Result = ();

    fn handle(&mut self, msg: TokenRevoked, _: &mut Self::Context) {
        self.store.tokens().forget(&[msg.token_id]);
        self.close_token(msg.token_id);
    }
}

impl Handler<AccessChanged> for Registry {
    type Result = ();

    fn handle(&mut self, msg: AccessChanged, _: &mut Self::Context) {
        // Forgotten first, so the checks the sessions are about to make read afresh.
        self.store.rights().forget(msg.change);
        // A moved union changes what everyone above its old and new places may read,
        // whatever the topic's kind, so a tree change re-checks every session.
        for entry in self.sessions.values() {
            if matches!(msg.change, AccessChange::User(id) if id != entry.user_id) {
                continue;
            }
            entry.session.send(ToSession::Recheck);
        }
    }
}

impl Handler<Shutdown> for Registry {
    type Result = usize;

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) -> usize {
        for entry in self.sessions.values() {
            entry.session.send(ToSession::Close {
                code: close::RESTARTING,
                reason: "server restarting",
            });
        }
        self.sessions.len()
    }
}
