//! The results publisher, one per node: it coalesces answers into `activity.results`
//! events. A route that records an answer marks its activity dirty here; every tick the
//! publisher asks the store to publish each dirty activity, which it does at most once
//! per [`RESULTS_EVERY_MS`] across the cluster (the activity's row says when the last
//! went out). An activity stays dirty until everything answered has been published, so
//! the last answer of a burst always gets out, a tick or two later.

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;

use crate::store::activities::RESULTS_EVERY_MS;
use crate::store::Store;

/// An activity received answers on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Dirty(pub i64);

/// Publishes the results of activities answered on this node.
pub struct ResultsPublisher {
    store: Store,
    dirty: HashSet<i64>,
    /// Activities being published right now.
    busy: HashSet<i64>,
}

impl ResultsPublisher {
    /// A publisher over `store`.
    pub fn new(store: Store) -> Self {
        ResultsPublisher {
            store,
            dirty: HashSet::new(),
            busy: HashSet::new(),
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let ready: Vec<i64> = self.dirty.difference(&self.busy).copied().collect();
        for id in ready {
            self.busy.insert(id);
            let store = self.store.clone();
            ctx.spawn(
                async move { store.publish_results(id, false).await }
                    .into_actor(self)
                    .map(move |done, act, _| {
                        act.busy.remove(&id);
                        match done {
                            Ok(true) => {
                                act.dirty.remove(&id);
                            }
                            Ok(false) => {}
                            Err(e) => tracing::warn!(activity = id, error = %e, "publishing results failed"),
                        }
                    }),
            );
        }
    }
}

impl Actor for ResultsPublisher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(
            Duration::from_millis(RESULTS_EVERY_MS as u64 / 2),
            Self::tick,
        );
    }
}

impl Handler<Dirty> for ResultsPublisher {
    type Result = ();

    fn handle(&mut self, Dirty(id): Dirty, _: &mut Self::Context) {
        self.dirty.insert(id);
    }
}
