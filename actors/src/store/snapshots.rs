//! Topic snapshots, each read in one REPEATABLE READ transaction together with the
//! topic's head, so the snapshot reflects exactly the events up to that seq and the
//! live stream can start right after it.

use gonghui_protocol::dto::{AdminSnapshot, MemberSnapshot, UnionSnapshot};
use gonghui_protocol::Topic;
use serde_json::Value;

use super::applications::{applications_of_in, pending_applications_in};
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
        let tx = conn
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        // The statements are pipelined; REPEATABLE READ gives them all one snapshot.
        let name = topic.to_string();
        let head_stmt = tx
            .prepare_cached("SELECT head FROM topics WHERE topic = $1")
            .await?;
        let head = async {
            Ok::<_, crate::Error>(
                tx.query_opt(&head_stmt, &[&name])
                    .await?
                    .map_or(0, |r| r.get::<_, i64>(0)),
            )
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
        let state = state.expect("snapshots are plain JSON");
        tx.commit().await?;
        Ok((head as u64, state))
    }
}
