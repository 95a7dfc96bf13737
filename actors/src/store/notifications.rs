//! The member inbox. A personal notification is one row; an announcement is one row for
//! a whole union, seen by each member who joined before it was sent, so announcing to
//! 100,000 members writes one row and one event. Reads are rows of their own, so the
//! unread count of any member is one indexed query.

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Transaction};
use gonghui_protocol::dto::{Inbox, Notification, NotificationEvent, ReadState};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::{json, Value};
use tokio_postgres::Row;

use super::audit;
use super::events::EventBatch;
use super::tokens::Principal;
use super::{keyset, Store};
use crate::domain::{BoundedText, Permission};
use crate::{Error, Result};

/// A CTE `visible` of the ids in the inbox of the user `user` names: their own
/// notifications, and the announcements of their current union since they joined it.
fn visible(user: &str) -> String {
    format!(
        "visible AS (
            SELECT id FROM notifications WHERE user_id = {user}
            UNION ALL
            SELECT n.id FROM memberships m
            JOIN notifications n ON n.union_id = m.union_id AND n.created_at >= m.joined_at
            WHERE m.user_id = {user} AND m.status IN ('active', 'retired'))"
    )
}

/// The columns [`notification_from_row`] reads, from `n` and the caller's read row `r`.
const COLUMNS: &str =
    "n.id, n.kind, n.title, n.body, n.data, n.union_id, n.created_at, r.user_id IS NOT NULL AS read";

fn notification_from_row(r: &Row) -> Notification {
    Notification {
        id: r.get("id"),
        kind: r.get("kind"),
        title: r.get("title"),
        body: r.get("body"),
        data: r.get("data"),
        union_id: r.get("union_id"),
        created_at: r.get("created_at"),
        read: r.get("read"),
    }
}

/// The most messages one page or one read call covers.
pub const MAX_PAGE: i64 = 100;
/// The most ids one read call may name.
pub const MAX_READ_IDS: usize = 500;

/// A message for members, written in the transaction of the change it tells about.
pub(crate) struct Notice<'a> {
    /// `application.approved`, `membership.removed`, …
    pub kind: &'a str,
    pub title: &'a str,
    pub body: String,
    pub data: Value,
}

/// Puts `notice` in the inbox of each of `user_ids` inside `tx`, with a
/// `notification.created` event on each one's topic carrying their new unread count.
/// Two statements, however many members.
pub(crate) async fn notify(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    user_ids: &[i64],
    notice: Notice<'_>,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(&format!(
            "WITH n AS (INSERT INTO notifications (user_id, kind, title, body, data)
                        SELECT unnest($1::bigint[]), $2, $3, $4, $5 RETURNING *)
             SELECT {COLUMNS}, n.user_id FROM n LEFT JOIN notification_reads r ON false"
        ))
        .await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &user_ids,
                &notice.kind,
                &notice.title,
                &notice.body,
                &notice.data,
            ],
        )
        .await?;
    created(tx, events, &rows, user_ids).await
}

/// Puts each notice in its user's inbox inside `tx` (a user may have several), with
/// their `notification.created` events: two statements however many there are.
pub(crate) async fn notify_each(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    notices: &[(i64, Notice<'_>)],
) -> Result<()> {
    let stmt = tx
        .prepare_cached(&format!(
            "WITH n AS (INSERT INTO notifications (user_id, kind, title, body, data)
                        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
                        RETURNING *)
             SELECT {COLUMNS}, n.user_id FROM n LEFT JOIN notification_reads r ON false"
        ))
        .await?;
    let users: Vec<i64> = notices.iter().map(|(u, _)| *u).collect();
    let kinds: Vec<&str> = notices.iter().map(|(_, n)| n.kind).collect();
    let titles: Vec<&str> = notices.iter().map(|(_, n)| n.title).collect();
    let bodies: Vec<&str> = notices.iter().map(|(_, n)| n.body.as_str()).collect();
    let data: Vec<&Value> = notices.iter().map(|(_, n)| &n.data).collect();
    let rows = tx
        .query(&stmt, &[&users, &kinds, &titles, &bodies, &data])
        .await?;
    let mut distinct = users;
    distinct.sort_unstable();
    distinct.dedup();
    created(tx, events, &rows, &distinct).await
}

/// The `notification.created` event of each inserted row, with its user's unread count
/// read after every insert (`user_ids`: the distinct users of `rows`).
async fn created(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    rows: &[Row],
    user_ids: &[i64],
) -> Result<()> {
    let unread = unread_of(tx, user_ids).await?;
    for row in rows {
        let user_id: i64 = row.get(8);
        events.push(
            Topic::Member(user_id),
            kind::NOTIFICATION_CREATED,
            NotificationEvent {
                notification: notification_from_row(row),
                unread: unread.get(&user_id).copied(),
            },
        );
    }
    Ok(())
}

/// Unread messages in a user's inbox, through any client or transaction.
pub(crate) async fn unread_in(conn: &impl GenericClient, user_id: i64) -> Result<i64> {
    let stmt = conn
        .prepare_cached(&unread_query("(VALUES ($1::bigint)) AS one(uid)"))
        .await?;
    Ok(conn.query_one(&stmt, &[&user_id]).await?.get(1))
}

/// Unread counts of several users in one statement (one user's goes through
/// [`unread_in`]: a statement over an array is planned again at every call, because
/// its plan depends on the array's length).
pub(crate) async fn unread_of(
    conn: &impl GenericClient,
    user_ids: &[i64],
) -> Result<HashMap<i64, i64>> {
    if let [user_id] = user_ids {
        return Ok(HashMap::from([(
            *user_id,
            unread_in(conn, *user_id).await?,
        )]));
    }
    let stmt = conn
        .prepare_cached(&unread_query("unnest($1::bigint[]) AS uid"))
        .await?;
    Ok(conn
        .query(&stmt, &[&user_ids])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Each user of `users` (a FROM item with a column `uid`) with their unread count.
fn unread_query(users: &str) -> String {
    format!(
        "SELECT uid, (WITH {} SELECT count(*) FROM visible v WHERE NOT EXISTS (
             SELECT 1 FROM notification_reads r WHERE r.user_id = uid AND r.notification_id = v.id))
         FROM {users}",
        visible("uid")
    )
}

impl Store {
    /// One page of a user's inbox, newest first, with ids below `before` if given.
    #[tracing::instrument(skip_all, fields(user_id = user_id, limit = limit))]
    pub async fn inbox(&self, user_id: i64, before: Option<i64>, limit: i64) -> Result<Inbox> {
        let conn = self.client().await?;
        let limit = limit.clamp(1, MAX_PAGE);
        let stmt = conn
            .prepare_cached(&format!(
                "WITH {}
                 SELECT {COLUMNS} FROM visible v JOIN notifications n ON n.id = v.id
                 LEFT JOIN notification_reads r ON r.user_id = $1 AND r.notification_id = n.id
                 WHERE n.id < $2 ORDER BY n.id DESC LIMIT $3",
                visible("$1")
            ))
            .await?;
        let rows = conn
            .query(
                &stmt,
                &[&user_id, &before.unwrap_or(i64::MAX), &(limit + 1)],
            )
            .await?;
        let (items, next_before) = keyset(
            rows.iter().map(notification_from_row).collect(),
            limit,
            |n: &Notification| n.id,
        );
        Ok(Inbox {
            items,
            unread: unread_in(&conn, user_id).await?,
            next_before,
        })
    }

    /// Marks messages read (`ids`, or the whole inbox when `None`) and tells every device
    /// of the user with a `notification.read` event. Reading what is already read changes
    /// nothing and sends nothing.
    ///
    /// # Errors
    /// `NotFound` if an id is not in the user's inbox (and then nothing is marked).
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn mark_read(&self, user_id: i64, ids: Option<&[i64]>) -> Result<ReadState> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let targets: Vec<i64> = match ids {
            Some(ids) => {
                let stmt = tx
                    .prepare_cached(&format!(
                        "WITH {} SELECT id FROM visible WHERE id = ANY($2)",
                        visible("$1")
                    ))
                    .await?;
                let found: Vec<i64> = tx
                    .query(&stmt, &[&user_id, &ids])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                    return Err(Error::NotFound(format!(
                        "no notification {missing} in your inbox"
                    )));
                }
                found
            }
            None => {
                let stmt = tx
                    .prepare_cached(&format!("WITH {} SELECT id FROM visible", visible("$1")))
                    .await?;
                tx.query(&stmt, &[&user_id])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect()
            }
        };
        let stmt = tx
            .prepare_cached(
                "INSERT INTO notification_reads (user_id, notification_id) SELECT $1, unnest($2::bigint[])
                 ON CONFLICT DO NOTHING RETURNING notification_id",
            )
            .await?;
        let mut newly: Vec<i64> = tx
            .query(&stmt, &[&user_id, &targets])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        newly.sort_unstable();
        let state = ReadState {
            ids: newly,
            unread: unread_in(&tx, user_id).await?,
        };
        let mut events = EventBatch::new();
        if !state.ids.is_empty() {
            events.push(Topic::Member(user_id), kind::NOTIFICATION_READ, &state);
        }
        self.commit(tx, events).await?;
        Ok(state)
    }

    /// Sends an announcement to every member of a union, for an admin with
    /// `members.manage` there: one row and one `notification.created` event on `union:{id}`.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without the permission.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn announce(
        &self,
        admin: &Principal,
        union_id: i64,
        title: &BoundedText,
        body: &BoundedText,
    ) -> Result<Notification> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        super::access::require(&tx, admin.user_id, union_id, Permission::MembersManage).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "WITH n AS (INSERT INTO notifications (union_id, kind, title, body, data, created_by)
                            VALUES ($1, 'announcement', $2, $3, '{{}}', $4) RETURNING *)
                 SELECT {COLUMNS} FROM n LEFT JOIN notification_reads r ON false"
            ))
            .await?;
        let row = tx
            .query_one(
                &stmt,
                &[&union_id, &title.as_str(), &body.as_str(), &admin.user_id],
            )
            .await?;
        let notification = notification_from_row(&row);
        audit::record(
            &tx,
            admin,
            union_id,
            "announcement.send",
            ("notification", notification.id),
            json!({ "title": title.as_str() }),
        )
        .await?;
        let mut events = EventBatch::new();
        events.push(
            Topic::Union(union_id),
            kind::NOTIFICATION_CREATED,
            NotificationEvent {
                notification: notification.clone(),
                unread: None,
            },
        );
        self.commit(tx, events).await?;
        Ok(notification)
    }
}
