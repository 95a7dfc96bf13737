//! Group commit: calls of one kind that reach a node while it is writing one of them wait
//! for its turn and are then written together, one transaction and one statement per
//! step for all of them, instead of a transaction each (a dozen statements apiece; see
//! docs/BENCHMARKS.md for what that costs Postgres). A call that finds the turn free goes
//! at once, alone, with no wait.
//!
//! Whoever holds the turn takes every call waiting, so each is taken by the first turn
//! after it queued; the group is written in a task of its own, so a caller that goes away
//! does not abandon the rest. What a group does when one of its calls fails is the
//! writer's business (`applications/decisions.rs`, `applications/filing.rs`: roll back and
//! make each alone).

use std::future::Future;

use futures_util::future::BoxFuture;
use std::mem;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::{Error, Result};

/// The most calls one transaction writes; a longer queue is written in several.
pub const MAX_GROUP: usize = 128;

/// The most calls of one kind a node lets wait; more are answered 503 with `Retry-After`
/// at once. A node writes about a thousand a second of each kind (docs/BENCHMARKS.md), so
/// a call let in waits about a second at most for its turn however long an overload
/// lasts, and memory stays bounded.
pub const MAX_WAITING: usize = 8 * MAX_GROUP;

/// The calls of one kind waiting on a node, and whose turn it is to write them.
pub(crate) struct Turns<W> {
    waiting: Mutex<Vec<W>>,
    turn: tokio::sync::Mutex<()>,
}

impl<W> Default for Turns<W> {
    fn default() -> Self {
        Turns {
            waiting: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

/// A queued call, which carries the channel its caller waits on.
pub(crate) trait Queued: Send + 'static {
    /// What the call is answered with when it succeeds.
    type Outcome: Send;
    /// Sends the call's outcome to its caller (who may have gone).
    fn answer(self, outcome: Result<Self::Outcome>);
}

impl<W: Queued> Turns<W> {
    /// Queues the call `call` makes of its answer channel and answers what comes
    /// through that channel, or `Busy` at once when [`MAX_WAITING`] wait. Until then the caller waits for a turn; if it gets one, it
    /// hands every call waiting to `write` in a task of its own and waits for that. A
    /// caller whose call another turn already took leaves the line as soon as it is
    /// answered: the turn passes only between callers with work, never through a convoy
    /// of ones already served. `write` runs only for the caller that gets a turn.
    pub async fn join<F, Fut>(
        &self,
        call: impl FnOnce(oneshot::Sender<Result<W::Outcome>>) -> W,
        what: &str,
        write: F,
    ) -> Result<W::Outcome>
    where
        F: FnOnce(Vec<W>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (answer, mut answered) = oneshot::channel();
        {
            let mut queue = self.queue();
            if queue.len() >= MAX_WAITING {
                return Err(Error::Busy(format!(
                    "{what} could not be queued: this node has {MAX_WAITING} waiting; try again shortly"
                )));
            }
            queue.push(call(answer));
        }
        tokio::select! {
            biased;
            answer = &mut answered => return received(answer, what),
            _turn = self.turn.lock() => {
                let waiting = mem::take(&mut *self.queue());
                if !waiting.is_empty() {
                    let _ = tokio::spawn(write(waiting)).await;
                }
            }
        }
        received(answered.await, what)
    }

    fn queue(&self) -> MutexGuard<'_, Vec<W>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Splits what was waiting into groups of at most [`MAX_GROUP`], oldest first.
pub(crate) fn groups<W>(mut waiting: Vec<W>) -> Vec<Vec<W>> {
    let mut groups = Vec::new();
    while !waiting.is_empty() {
        let rest = waiting.split_off(waiting.len().min(MAX_GROUP));
        groups.push(mem::replace(&mut waiting, rest));
    }
    groups
}

/// Answers every call of `group`: with the outcomes `together` made of them in one
/// transaction, or, when it did not (it failed, or `group` had one call and it was not
/// tried), with what `alone` makes of each call with `store`, all at once.
pub(crate) async fn settle<W: Queued, S: Sync>(
    store: &S,
    group: Vec<W>,
    together: Option<Result<Vec<Result<W::Outcome>>>>,
    alone: impl for<'a> Fn(&'a S, &'a W) -> BoxFuture<'a, Result<W::Outcome>>,
) {
    match together {
        Some(Ok(outcomes)) => {
            for (call, outcome) in group.into_iter().zip(outcomes) {
                call.answer(outcome);
            }
            return;
        }
        Some(Err(e)) => tracing::debug!(error = %e, "a group is made one call at a time"),
        None => {}
    }
    let alone = &alone;
    futures_util::future::join_all(group.into_iter().map(|call| async move {
        let outcome = alone(store, &call).await;
        call.answer(outcome);
    }))
    .await;
}

/// The answer to a queued call of `what`; a writer that died before answering is a 503.
fn received<T>(
    answer: std::result::Result<Result<T>, oneshot::error::RecvError>,
    what: &str,
) -> Result<T> {
    answer.unwrap_or_else(|_| {
        Err(Error::Unavailable(format!(
            "{what} was interrupted; ask again"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::{groups, Queued, Turns, MAX_GROUP, MAX_WAITING};
    use crate::{Error, Result};
    use std::sync::Arc;
    use tokio::sync::{oneshot, Notify};

    struct Call(oneshot::Sender<Result<()>>);
    impl Queued for Call {
        type Outcome = ();
        fn answer(self, outcome: Result<()>) {
            let _ = self.0.send(outcome);
        }
    }

    #[tokio::test]
    async fn a_full_line_refuses_at_once_and_everyone_let_in_is_answered() {
        let turns = Arc::new(Turns::<Call>::default());
        let release = Arc::new(Notify::new());
        let join = |turns: Arc<Turns<Call>>, release: Arc<Notify>| async move {
            turns
                .join(Call, "the call", |calls| async move {
                    release.notified().await;
                    calls.into_iter().for_each(|c| c.answer(Ok(())));
                })
                .await
        };
        // The first call takes the turn and is held there; the next wait behind it.
        let mut let_in = vec![tokio::spawn(join(turns.clone(), release.clone()))];
        while turns.queue().len() > 0 || turns.turn.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        for _ in 0..MAX_WAITING {
            let_in.push(tokio::spawn(join(turns.clone(), release.clone())));
        }
        while turns.queue().len() < MAX_WAITING {
            tokio::task::yield_now().await;
        }
        let refused = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            join(turns.clone(), release.clone()),
        )
        .await
        .expect("refused at once, not queued");
        assert!(matches!(refused, Err(Error::Busy(_))), "{refused:?}");
        assert_eq!(Error::Busy(String::new()).retry_after(), Some(1));
        release.notify_one();
        release.notify_one();
        for call in let_in {
            call.await.unwrap().unwrap();
        }
    }

    #[test]
    fn a_long_queue_is_written_in_groups_of_at_most_the_maximum_in_order() {
        let split = groups((0..MAX_GROUP * 2 + 3).collect());
        let sizes: Vec<usize> = split.iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_GROUP, MAX_GROUP, 3]);
        assert_eq!(split.concat(), (0..MAX_GROUP * 2 + 3).collect::<Vec<_>>());
        assert!(groups(Vec::<u8>::new()).is_empty());
    }
}
