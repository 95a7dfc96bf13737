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

use gonghui_protocol::dto::{AdminSnapshot, MemberSnapshot, UnionSnapshot};
use gonghui_protocol::Topic;
use serde_json::Value;

use super::applications::{applications_of_in, pending_applications_in};
use super::events::SEQUENCING_LOCK;
use super::notifications::unread_in;
use super::org::pending_org_requests_in;
use super::unions::{member_count_in, memberships_in, union_in};
use super::users::user_in;
use super::Store;
use crate::Result;

impl Store {
    /// A topic's state and the seq it reflects.
    #[tracing::instrument(skip_all)]
    pub async fn snapshot(&self, topic: Topic) -> Result<(u64, Value)> {
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
