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

/// The most lookups of one kind a node lets wait. Reads are bounded upstream already (a
/// node's sockets, each with a few checks waiting), and a reconnect storm asks for one
/// per session at once; refusing them would fail the storm, so the bound is the node's.
pub const MAX_LOOKUPS_WAITING: usize = 32_768;

/// The calls of one kind waiting on a node, and whose turn it is to write them.
pub(crate) struct Turns<W> {
    waiting: Mutex<Vec<W>>,
    turn: tokio::sync::Mutex<()>,
    /// How many may wait; more are refused.
    limit: usize,
}

impl<W> Default for Turns<W> {
    fn default() -> Self {
        Turns::with_limit(MAX_WAITING)
    }
}

impl<W> Turns<W> {
    /// Turns that let at most `limit` calls wait.
    pub fn with_limit(limit: usize) -> Self {
        Turns {
            waiting: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
            limit,
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
    /// through that channel, or `Busy` at once when the limit ([`MAX_WAITING`] unless
    /// made otherwise) wait. Until then the caller waits for a turn; if it gets one, it
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
            if queue.len() >= self.limit {
                return Err(Error::Busy(format!(
                    "{what} could not be queued: this node has {} waiting; try again shortly",
                    self.limit
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

    /// Makes the call `call` builds together with every call of its kind waiting
    /// meanwhile: a group by `together` (`Err`: it did nothing), a lone call — or each
    /// call of a group `together` could not make — by `alone`. `store` is cloned only by
    /// the caller that gets a turn.
    pub async fn make<S, T, A>(
        &self,
        store: &S,
        call: impl FnOnce(oneshot::Sender<Result<W::Outcome>>) -> W,
        what: &str,
        together: T,
        alone: A,
    ) -> Result<W::Outcome>
    where
        W: Sync,
        S: Clone + Send + Sync + 'static,
        T: for<'a> Fn(&'a S, &'a [W]) -> BoxFuture<'a, Result<Vec<Result<W::Outcome>>>>
            + Send
            + Sync
            + 'static,
        A: for<'a> Fn(&'a S, &'a W) -> BoxFuture<'a, Result<W::Outcome>> + Send + Sync + 'static,
    {
        self.join(call, what, |all| {
            let store = store.clone();
            async move {
                for group in groups(all) {
                    let made = match group.len() {
                        1 => None,
                        _ => Some(together(&store, &group).await),
                    };
                    settle(&store, group, made, &alone).await;
                }
            }
        })
        .await
    }

    fn queue(&self) -> MutexGuard<'_, Vec<W>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A key looked up, and the caller waiting for its value: reads that many sessions make at
/// once (a reconnect storm's checks and log bounds) go to Postgres together, one
/// statement for a group instead of one each.
pub(crate) struct Asked<K, V> {
    key: K,
    answer: oneshot::Sender<Result<V>>,
}

impl<K: Send + 'static, V: Send + 'static> Queued for Asked<K, V> {
    type Outcome = V;
    fn answer(self, outcome: Result<V>) {
        let _ = self.answer.send(outcome);
    }
}

impl<K, V> Turns<Asked<K, V>> {
    /// Lookups of one kind, which may wait in their thousands.
    pub fn lookups() -> Self {
        Turns::with_limit(MAX_LOOKUPS_WAITING)
    }
}

/// Reads a group's keys in one statement: a value per key, in the keys' order.
pub(crate) type ReadMany<S, K, V> = for<'a> fn(&'a S, Vec<K>) -> BoxFuture<'a, Result<Vec<V>>>;
/// Reads one key alone.
pub(crate) type ReadOne<S, K, V> = for<'a> fn(&'a S, K) -> BoxFuture<'a, Result<V>>;

impl<K: Clone + Send + Sync + 'static, V: Send + 'static> Turns<Asked<K, V>> {
    /// Looks `key` up with every lookup of this kind that waits meanwhile: a group is read
    /// by `many`; a lone key, or each key of a group whose read failed, by `one`.
    pub async fn look_up<S: Clone + Send + Sync + 'static>(
        &self,
        store: &S,
        key: K,
        what: &str,
        many: ReadMany<S, K, V>,
        one: ReadOne<S, K, V>,
    ) -> Result<V> {
        let asked = |answer| Asked { key, answer };
        self.make(
            store,
            asked,
            what,
            move |store, group| {
                let keys = group.iter().map(|a| a.key.clone()).collect();
                Box::pin(async move {
                    let values = many(store, keys).await?;
                    Ok(values.into_iter().map(Ok).collect())
                })
            },
            move |store, asked| one(store, asked.key.clone()),
        )
        .await
    }
}

/// The rows of a read of `keys` keys, each tagged with its key's 1-based place in a
/// column `i` (`unnest(…) WITH ORDINALITY`), as one list per key, in order.
pub(crate) fn per_key<T>(
    rows: &[tokio_postgres::Row],
    keys: usize,
    read: impl Fn(&tokio_postgres::Row) -> T,
) -> Vec<Vec<T>> {
    let mut lists: Vec<Vec<T>> = (0..keys).map(|_| Vec::new()).collect();
    for row in rows {
        let at = usize::try_from(row.get::<_, i64>("i") - 1).ok();
        if let Some(list) = at.and_then(|at| lists.get_mut(at)) {
            list.push(read(row));
        }
    }
    lists
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
    use super::{groups, Asked, Queued, Turns, MAX_GROUP, MAX_WAITING};
    use crate::{Error, Result};
    use futures_util::future::BoxFuture;
    use std::sync::{Arc, Mutex};
    use tokio::sync::{oneshot, Notify};

    /// A pretend database: key 0 is held until released; `many` records each group.
    #[derive(Clone, Default)]
    struct Db {
        release: Arc<Notify>,
        groups: Arc<Mutex<Vec<Vec<u32>>>>,
        failing: bool,
    }

    fn many(db: &Db, keys: Vec<u32>) -> BoxFuture<'_, Result<Vec<u32>>> {
        Box::pin(async move {
            db.groups.lock().unwrap().push(keys.clone());
            if db.failing {
                return Err(Error::Unavailable("the group's read failed".into()));
            }
            Ok(keys.iter().map(|k| k * 10).collect())
        })
    }

    fn one(db: &Db, key: u32) -> BoxFuture<'_, Result<u32>> {
        Box::pin(async move {
            if key == 0 {
                db.release.notified().await;
            }
            Ok(key * 10)
        })
    }

    async fn look_up_while_one_is_held(db: Db) -> Vec<u32> {
        let turns = Arc::new(Turns::<Asked<u32, u32>>::lookups());
        let ask = |key: u32| {
            let (turns, db) = (turns.clone(), db.clone());
            tokio::spawn(async move { turns.look_up(&db, key, "a lookup", many, one).await })
        };
        let first = ask(0);
        while !turns.queue().is_empty() || turns.turn.try_lock().is_ok() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (1..=5).map(ask).collect();
        while turns.queue().len() < 5 {
            tokio::task::yield_now().await;
        }
        db.release.notify_one();
        let mut values = vec![first.await.unwrap().unwrap()];
        for asked in rest {
            values.push(asked.await.unwrap().unwrap());
        }
        values
    }

    #[tokio::test]
    async fn lookups_that_wait_meanwhile_are_read_in_one_group_each_answered_its_own() {
        let db = Db::default();
        assert_eq!(
            look_up_while_one_is_held(db.clone()).await,
            [0, 10, 20, 30, 40, 50]
        );
        assert_eq!(*db.groups.lock().unwrap(), [vec![1, 2, 3, 4, 5]]);
    }

    #[tokio::test]
    async fn a_group_whose_read_fails_is_looked_up_one_by_one() {
        let db = Db {
            failing: true,
            ..Db::default()
        };
        assert_eq!(
            look_up_while_one_is_held(db.clone()).await,
            [0, 10, 20, 30, 40, 50]
        );
        assert_eq!(db.groups.lock().unwrap().len(), 1);
    }

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
        while !turns.queue().is_empty() || turns.turn.try_lock().is_ok() {
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
