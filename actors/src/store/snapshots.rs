//! Topic snapshots, each read in one REPEATABLE READ transaction together with the
//! topic's head, so the snapshot reflects exactly the events up to that seq and the
//! live stream can start right after it.
//!
//! A change commits its rows and its events (to the outbox) together, and the log writer
//! gives the events their seqs a moment later. A snapshot that sees events of its topic
//! still in the outbox would show their changes without counting them in its seq, so it
//! is read again after moving them into the log itself, under the log writers' lock and
//! in the same snapshot: then every change it shows is at or below its seq, and every
//! later one above.
//!
//! Every session holds its member topic, so a crowd connecting asks for many members'
//! snapshots at once: those are read together (`group.rs` `look_up`), all in one
//! transaction by key, and any whose topic has events waiting is read again alone.

use gonghui_protocol::dto::{AdminSnapshot, MemberSnapshot, UnionSnapshot};
use gonghui_protocol::Topic;
use serde_json::Value;

use futures_util::future::BoxFuture;

use super::applications::{applications_of_in, applications_of_many_in, pending_applications_in};
use super::events::SEQUENCING_LOCK;
use super::notifications::{unread_in, unread_of};
use super::org::pending_org_requests_in;
use super::unions::{member_count_in, memberships_in, memberships_of_in, union_in};
use super::users::{user_in, users_in};
use super::Store;
use crate::Result;

impl Store {
    /// A topic's state and the seq it reflects.
    #[tracing::instrument(skip_all)]
    pub async fn snapshot(&self, topic: Topic) -> Result<(u64, Value)> {
        match topic {
            Topic::Member(user_id) => {
                self.member_snapshots
                    .look_up(
                        self,
                        user_id,
                        "reading members' snapshots",
                        member_snapshots,
                        |store, user_id| Box::pin(store.snapshot_alone(Topic::Member(user_id))),
                    )
                    .await
            }
            _ => self.snapshot_alone(topic).await,
        }
    }

    /// One topic's snapshot, in a transaction of its own.
    async fn snapshot_alone(&self, topic: Topic) -> Result<(u64, Value)> {
        let mut conn = self.client().await?;
        if let Some(taken) = self.read_snapshot(&mut conn, topic, false).await? {
            return Ok(taken);
        }
        conn.execute("SELECT pg_advisory_lock($1)", &[&SEQUENCING_LOCK])
            .await?;
        let taken = self.read_snapshot(&mut conn, topic, true).await;
        if conn
            .execute("SELECT pg_advisory_unlock($1)", &[&SEQUENCING_LOCK])
            .await
            .is_err()
        {
            // A connection that may still hold the lock never goes back to the pool.
            drop(deadpool_postgres::Object::take(conn));
        }
        taken?.ok_or_else(|| crate::Error::Unavailable("a snapshot could not be read".into()))
    }

    /// Reads a snapshot in one REPEATABLE READ transaction. Without `flush`, answers
    /// `None` when events of the topic wait in the outbox; with it (under the sequencing
    /// lock), first moves every waiting event into the log.
    async fn read_snapshot(
        &self,
        conn: &mut deadpool_postgres::Object,
        topic: Topic,
        flush: bool,
    ) -> Result<Option<(u64, Value)>> {
        let tx = conn
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(!flush)
            .start()
            .await?;
        let name = topic.to_string();
        if flush {
            tx.execute("SELECT sequence_outbox(NULL)", &[]).await?;
        }
        // The statements are pipelined; REPEATABLE READ gives them all one snapshot.
        let head_stmt = tx
            .prepare_cached(
                "SELECT coalesce((SELECT head FROM topics WHERE topic = $1), 0),
                        EXISTS (SELECT 1 FROM outbox WHERE topic = $1)",
            )
            .await?;
        let head = async {
            let row = tx.query_one(&head_stmt, &[&name]).await?;
            Ok::<_, crate::Error>((row.get::<_, i64>(0), row.get::<_, bool>(1)))
        };
        let (head, state) = match topic {
            Topic::Member(user_id) => {
                let (head, user, memberships, applications, unread) = futures_util::try_join!(
                    head,
                    user_in(&tx, user_id),
                    memberships_in(&tx, user_id),
                    applications_of_in(&tx, user_id),
                    unread_in(&tx, user_id)
                )?;
                (
                    head,
                    serde_json::to_value(MemberSnapshot {
                        user,
                        memberships,
                        applications,
                        unread,
                    }),
                )
            }
            Topic::Union(union_id) => {
                let (head, member_count, union) = futures_util::try_join!(
                    head,
                    member_count_in(&tx, union_id),
                    union_in(&tx, union_id)
                )?;
                (
                    head,
                    serde_json::to_value(UnionSnapshot {
                        union,
                        member_count,
                    }),
                )
            }
            Topic::Activity(id) => {
                let (head, snapshot) =
                    futures_util::try_join!(head, self.activity_snapshot(&tx, id))?;
                (head, serde_json::to_value(snapshot))
            }
            Topic::UnionAdmin(union_id) => {
                let (head, pending, org_requests) = futures_util::try_join!(
                    head,
                    pending_applications_in(&tx, union_id),
                    pending_org_requests_in(&tx, union_id)
                )?;
                (
                    head,
                    serde_json::to_value(AdminSnapshot {
                        pending,
                        org_requests,
                    }),
                )
            }
        };
        let ((head, waiting), state) = (head, state.expect("snapshots are plain JSON"));
        if waiting {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some((head as u64, state)))
    }
}

/// Members' snapshots in one REPEATABLE READ transaction, each part read for all of them
/// by key; a member whose topic has events waiting in the outbox is read again alone.
fn member_snapshots(store: &Store, users: Vec<i64>) -> BoxFuture<'_, Result<Vec<(u64, Value)>>> {
    Box::pin(async move {
        let names: Vec<String> = users
            .iter()
            .map(|id| Topic::Member(*id).to_string())
            .collect();
        let (heads, people, memberships, applications, mut unread) = {
            let mut conn = store.client().await?;
            let tx = conn
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let read = futures_util::try_join!(
                heads_in(&tx, &names),
                users_in(&tx, &users),
                memberships_of_in(&tx, &users),
                applications_of_many_in(&tx, &users),
                unread_of(&tx, &users)
            )?;
            tx.commit().await?;
            read
        };
        let mut snapshots = Vec::with_capacity(users.len());
        let parts = users
            .iter()
            .zip(heads)
            .zip(people)
            .zip(memberships)
            .zip(applications);
        for ((((user_id, (head, waiting)), user), memberships), applications) in parts {
            if waiting {
                snapshots.push(store.snapshot_alone(Topic::Member(*user_id)).await?);
                continue;
            }
            let snapshot = MemberSnapshot {
                user,
                memberships,
                applications,
                unread: unread.remove(user_id).unwrap_or(0),
            };
            let state = serde_json::to_value(snapshot).expect("snapshots are plain JSON");
            snapshots.push((head as u64, state));
        }
        Ok(snapshots)
    })
}

/// The heads of several topics, and whether events of each wait in the outbox, in order.
async fn heads_in(
    conn: &impl deadpool_postgres::GenericClient,
    names: &[String],
) -> Result<Vec<(i64, bool)>> {
    let stmt = conn
        .prepare_cached(
            "SELECT coalesce(h.head, 0), o.waiting IS NOT NULL
             FROM unnest($1::text[]) WITH ORDINALITY AS t(topic, i)
             LEFT JOIN LATERAL (SELECT head FROM topics WHERE topic = t.topic LIMIT 1) h ON true
             LEFT JOIN LATERAL (SELECT true AS waiting FROM outbox WHERE topic = t.topic LIMIT 1) o ON true
             ORDER BY t.i",
        )
        .await?;
    let rows = conn.query(&stmt, &[&names]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
