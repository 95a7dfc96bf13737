//! Topic snapshots, each read in one REPEATABLE READ transaction together with the
//! topic's head, so the snapshot reflects exactly the events up to that seq and the
//! live stream can start right after it.

use gonghui_protocol::dto::{AdminSnapshot, MemberSnapshot, UnionSnapshot};
use gonghui_protocol::Topic;
use serde_json::Value;

use super::applications::{applications_of_in, pending_applications_in};
use super::unions::{memberships_in, union_in};
use super::users::user_in;
use super::Store;
use crate::Result;

impl Store {
    /// A topic's state and the seq it reflects.
    pub async fn snapshot(&self, topic: Topic) -> Result<(u64, Value)> {
        let mut conn = self.client().await?;
        let tx = conn
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let head: i64 = tx
            .query_opt(
                "SELECT head FROM topics WHERE topic = $1",
                &[&topic.to_string()],
            )
            .await?
            .map_or(0, |r| r.get(0));
        let state = match topic {
            Topic::Member(user_id) => serde_json::to_value(MemberSnapshot {
                user: user_in(&*tx, user_id).await?,
                memberships: memberships_in(&*tx, user_id).await?,
                applications: applications_of_in(&*tx, user_id).await?,
                unread: 0,
            }),
            Topic::Union(union_id) => {
                let member_count: i64 = tx
                    .query_one("SELECT count(*) FROM memberships WHERE union_id = $1 AND status = 'active'", &[&union_id])
                    .await?
                    .get(0);
                serde_json::to_value(UnionSnapshot { union: union_in(&*tx, union_id).await?, member_count })
            }
            Topic::UnionAdmin(union_id) => {
                serde_json::to_value(AdminSnapshot { pending: pending_applications_in(&*tx, union_id).await? })
            }
        }
        .expect("snapshots are plain JSON");
        tx.commit().await?;
        Ok((head as u64, state))
    }
}
