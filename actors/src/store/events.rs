//! The event log: appending inside a change's own transaction, and reading it back for
//! resumes, gap fills and retention.

use std::time::Duration;

use deadpool_postgres::Transaction;
use futures_util::future::BoxFuture;
use gonghui_protocol::{EventFrame, Topic};
use serde::Serialize;
use serde_json::Value;

use super::Store;
use crate::Result;

/// The advisory lock `sequence_outbox` (migrations/V29) takes for each batch; a snapshot
/// holds it while it moves its topic's waiting events into the log itself.
pub const SEQUENCING_LOCK: i64 = 7_291_001;

/// The events of one transaction, appended together just before it commits.
#[derive(Default)]
pub struct EventBatch {
    items: Vec<(String, &'static str, Value)>,
}

impl EventBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event for `topic`; its seq is assigned on append.
    pub fn push(&mut self, topic: Topic, kind: &'static str, data: impl Serialize) {
        debug_assert!(
            gonghui_protocol::events::carries(topic, kind),
            "the protocol's catalogue does not list {kind} on {topic} topics"
        );
        let data = serde_json::to_value(data).expect("event data is plain JSON");
        self.items.push((topic.to_string(), kind, data));
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Puts every event in the outbox in one round trip, grouped by topic name (each
    /// topic's in the order pushed, so they reach every node in the order they always
    /// have); the log writer gives them their seqs once the transaction commits (see
    /// [`Store::commit`]).
    #[tracing::instrument(skip_all)]
    pub async fn append(mut self, tx: &Transaction<'_>) -> Result<()> {
        if self.items.is_empty() {
            return Ok(());
        }
        self.items.sort_by(|a, b| a.0.cmp(&b.0));
        let topics: Vec<&str> = self.items.iter().map(|i| i.0.as_str()).collect();
        let kinds: Vec<&str> = self.items.iter().map(|i| i.1).collect();
        let data: Vec<&Value> = self.items.iter().map(|i| &i.2).collect();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO outbox (topic, kind, data)
                 SELECT t, k, d FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS e(t, k, d, n)
                 ORDER BY n",
            )
            .await?;
        tx.execute(&stmt, &[&topics, &kinds, &data]).await?;
        Ok(())
    }
}

/// Where a topic's log stands: its head and the oldest seq still retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// The last seq written (0 if none ever was).
    pub head: u64,
    /// The oldest seq still in the log, if any is.
    pub floor: Option<u64>,
}

impl LogBounds {
    /// Whether every event after `since` can still be read from the log, within `max_replay`.
    pub fn can_resume_from(&self, since: u64, max_replay: u64) -> bool {
        if since > self.head || self.head - since > max_replay {
            return false;
        }
        since == self.head || self.floor.is_some_and(|floor| floor <= since + 1)
    }
}

/// How far [`Store::move_seqs_past_restore`] moves each topic's seq: far past any
/// `GONGHUI_MAX_REPLAY` and any number of events a lost timeline could hold.
pub const RESTORE_GAP: u64 = 1_000_000_000;

/// The bounds of several topics' logs, in their order, in one statement.
fn bounds_of(store: &Store, topics: Vec<Topic>) -> BoxFuture<'_, Result<Vec<LogBounds>>> {
    Box::pin(async move {
        let client = store.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT (SELECT head FROM topics WHERE topic = t.topic),
                        (SELECT min(seq) FROM events WHERE topic = t.topic)
                 FROM unnest($1::text[]) WITH ORDINALITY AS t(topic, n) ORDER BY n",
            )
            .await?;
        let names: Vec<String> = topics.iter().map(Topic::to_string).collect();
        let rows = client.query(&stmt, &[&names]).await?;
        Ok(rows.iter().map(bounds_from_row).collect())
    })
}

/// The bounds of one topic's log.
fn bounds_of_one(store: &Store, topic: Topic) -> BoxFuture<'_, Result<LogBounds>> {
    Box::pin(async move {
        let client = store.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT (SELECT head FROM topics WHERE topic = $1), (SELECT min(seq) FROM events WHERE topic = $1)",
            )
            .await?;
        let row = client.query_one(&stmt, &[&topic.to_string()]).await?;
        Ok(bounds_from_row(&row))
    })
}

fn bounds_from_row(row: &tokio_postgres::Row) -> LogBounds {
    LogBounds {
        head: row.get::<_, Option<i64>>(0).unwrap_or(0) as u64,
        floor: row.get::<_, Option<i64>>(1).map(|s| s as u64),
    }
}

impl Store {
    /// Puts `events` in the outbox, commits `tx`, and wakes this node's log writer to
    /// move them into the log: the one way a change and its events are committed.
    pub(crate) async fn commit(&self, tx: Transaction<'_>, events: EventBatch) -> Result<()> {
        let any = !events.is_empty();
        events.append(&tx).await?;
        tx.commit().await?;
        if any {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Moves up to `limit` events from the outbox into the log (all there are, for
    /// `None`), assigning seqs and notifying every node; answers how many it moved.
    #[tracing::instrument(skip_all)]
    pub async fn sequence_outbox(&self, limit: Option<i32>) -> Result<i32> {
        let client = self.client().await?;
        let stmt = client.prepare_cached("SELECT sequence_outbox($1)").await?;
        Ok(client.query_one(&stmt, &[&limit]).await?.get(0))
    }

    /// What the log writer waits on: a change committed events to the outbox.
    pub fn outbox_written(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// The head and floor of a topic's log, read together with every other topic's
    /// asked meanwhile (a storm of resumes asks for thousands at once).
    #[tracing::instrument(skip_all)]
    pub async fn log_bounds(&self, topic: Topic) -> Result<LogBounds> {
        self.bounds
            .look_up(
                self,
                topic,
                "reading the log's bounds",
                bounds_of,
                bounds_of_one,
            )
            .await
    }

    /// Up to `limit` events of `topic` with seq > `after`, in order.
    #[tracing::instrument(skip_all, fields(limit = limit))]
    pub async fn events_after(
        &self,
        topic: Topic,
        after: u64,
        limit: i64,
    ) -> Result<Vec<EventFrame>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT seq, kind, at, data FROM events WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .await?;
        let name = topic.to_string();
        let rows = client
            .query(&stmt, &[&name, &(after as i64), &limit])
            .await?;
        Ok(rows
            .iter()
            .map(|r| EventFrame {
                topic: name.clone(),
                seq: r.get::<_, i64>(0) as u64,
                kind: r.get(1),
                at: r.get(2),
                data: r.get(3),
            })
            .collect())
    }

    /// After a restore to an earlier point: clients may hold seqs of events the restore
    /// undid, which the restored log would give again to new events. Every topic's head
    /// moves on by [`RESTORE_GAP`] — more than any resume replays — so every `since` a
    /// client holds is answered with a fresh snapshot (`reset`) and new events get seqs no
    /// client has seen. Run with every node stopped (their owners cache heads). Returns
    /// the topics moved.
    ///
    /// # Errors
    /// A database failure.
    pub async fn move_seqs_past_restore(&self) -> Result<u64> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE topics SET head = head + $1",
                &[&(RESTORE_GAP as i64)],
            )
            .await?)
    }

    /// Deletes events older than `retention`; topic heads stay, so seqs never restart.
    #[tracing::instrument(skip_all)]
    pub async fn prune_events(&self, retention: Duration) -> Result<u64> {
        let client = self.client().await?;
        let secs = retention.as_secs_f64();
        Ok(client
            .execute(
                "DELETE FROM events WHERE at < now() - make_interval(secs => $1)",
                &[&secs],
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::LogBounds;

    #[test]
    fn resume_needs_every_later_event_retained() {
        let b = LogBounds {
            head: 10,
            floor: Some(5),
        };
        assert!(b.can_resume_from(10, 1000));
        assert!(b.can_resume_from(4, 1000));
        assert!(!b.can_resume_from(3, 1000));
        assert!(!b.can_resume_from(11, 1000));
        assert!(!b.can_resume_from(4, 5));
        let pruned = LogBounds {
            head: 10,
            floor: None,
        };
        assert!(pruned.can_resume_from(10, 1000));
        assert!(!pruned.can_resume_from(9, 1000));
    }
}
