//! Who may do what: every check walks the union tree through `unions.path`, so an admin
//! of an ancestor may act below and nobody may act above or beside their unions.

use futures_util::future::BoxFuture;
use gonghui_protocol::dto::AdminOf;
use gonghui_protocol::Topic;

use std::sync::Arc;

use super::rights::{allows, AccessChange, Grants};
use super::Store;
use crate::domain::Permission;
use crate::{Error, Result};

/// The channel on which a change of someone's rights is announced to every node.
pub const ACCESS_CHANNEL: &str = "gonghui_access";

/// Announces, on commit of `tx`, that rights changed, so every node forgets what it
/// cached and open subscriptions are checked again.
pub(crate) async fn access_changed(
    tx: &deadpool_postgres::Transaction<'_>,
    change: AccessChange,
) -> Result<()> {
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&ACCESS_CHANNEL, &change.payload()],
    )
    .await?;
    Ok(())
}

/// Announces, on commit of `tx`, that the rights of each of `user_ids` changed, in one
/// statement however many there are.
pub(crate) async fn users_changed(
    tx: &deadpool_postgres::Transaction<'_>,
    user_ids: &[i64],
) -> Result<()> {
    if !user_ids.is_empty() {
        tx.execute(
            "SELECT pg_notify($1, u::text) FROM unnest($2::bigint[]) AS u",
            &[&ACCESS_CHANNEL, &user_ids],
        )
        .await?;
    }
    Ok(())
}

/// Checks, through any client or transaction, that `user_id` holds `permission` on
/// `union_id`.
///
/// # Errors
/// `NotFound` for no such union, `Forbidden` without the permission.
pub(crate) async fn require(
    conn: &impl deadpool_postgres::GenericClient,
    user_id: i64,
    union_id: i64,
    permission: Permission,
) -> Result<()> {
    let stmt = conn
        .prepare_cached("SELECT holds_permission($1, id, $3) FROM unions WHERE id = $2")
        .await?;
    match conn
        .query_opt(&stmt, &[&user_id, &union_id, &permission.as_str()])
        .await?
    {
        None => Err(Error::NotFound(format!("no union {union_id}"))),
        Some(row) if row.get::<_, bool>(0) => Ok(()),
        Some(_) => Err(Error::Forbidden(format!(
            "you need {} on union {union_id}",
            permission.as_str()
        ))),
    }
}

impl Store {
    /// The unions a user administers directly, with the permissions held on each.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn admin_of(&self, user_id: i64) -> Result<Vec<AdminOf>> {
        let conn = self.client().await?;
        let stmt = conn
            .prepare_cached("SELECT union_id, permissions FROM union_admins WHERE user_id = $1 ORDER BY union_id")
            .await?;
        let rows = conn.query(&stmt, &[&user_id]).await?;
        Ok(rows
            .iter()
            .map(|r| AdminOf {
                union_id: r.get(0),
                permissions: r.get(1),
            })
            .collect())
    }

    /// Whether a union with this id exists.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn union_exists(&self, union_id: i64) -> Result<bool> {
        let conn = self.client().await?;
        let row = conn
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM unions WHERE id = $1)",
                &[&union_id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Whether `user_id` holds `permission` on `union_id` or on one of its ancestors,
    /// from the node's rights cache (loading what it lacks in one round trip).
    #[tracing::instrument(skip_all, fields(user_id = user_id, union_id = union_id))]
    pub async fn has_permission(
        &self,
        user_id: i64,
        union_id: i64,
        permission: Permission,
    ) -> Result<bool> {
        let (grants, path, generation) = self.rights.lookup(user_id, union_id);
        if let (Some(grants), Some(path)) = (&grants, &path) {
            return Ok(allows(grants, path, permission));
        }
        let conn = self.client().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT (SELECT path FROM unions WHERE id = $2),
                        (SELECT coalesce(array_agg(union_id ORDER BY union_id), '{}') FROM union_admins WHERE user_id = $1),
                        (SELECT coalesce(array_agg(array_to_string(permissions, ',') ORDER BY union_id), '{}')
                         FROM union_admins WHERE user_id = $1)",
            )
            .await?;
        let row = conn.query_one(&stmt, &[&user_id, &union_id]).await?;
        let path: Option<Arc<[i64]>> = row.get::<_, Option<Vec<i64>>>(0).map(Arc::from);
        let unions: Vec<i64> = row.get(1);
        let held: Vec<String> = row.get(2);
        let loaded: Grants = unions
            .into_iter()
            .zip(held)
            .map(|(union, list)| {
                let permissions = list
                    .split(',')
                    .filter_map(|p| Permission::parse("permission", p).ok())
                    .collect();
                (union, permissions)
            })
            .collect();
        let Some(path) = path else {
            return Ok(false);
        };
        let answer = allows(&loaded, &path, permission);
        self.rights.store(
            generation,
            grants.is_none().then_some((user_id, loaded)),
            Some((union_id, path)),
        );
        Ok(answer)
    }

    /// Whether `user_id` may subscribe to `topic`.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn can_read(&self, user_id: i64, topic: Topic) -> Result<bool> {
        match topic {
            Topic::Member(id) => Ok(id == user_id),
            Topic::UnionAdmin(union_id) => Ok(self
                .has_permission(user_id, union_id, Permission::MembersReview)
                .await?
                || self
                    .has_permission(user_id, union_id, Permission::OrgManage)
                    .await?),
            Topic::Activity(id) => self.can_watch_activity(user_id, id).await,
            Topic::Union(union_id) => {
                self.union_readers
                    .look_up(
                        self,
                        (user_id, union_id),
                        "checking who may read a union",
                        union_readers,
                        union_reader,
                    )
                    .await
            }
        }
    }

    /// The topics named in a hello reply: the user's own, their unions', and the admin
    /// queues of the unions they review (members or organisations) (subordinate unions
    /// may be subscribed to as well). Read together with every hello's meanwhile.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn readable_topics(&self, user_id: i64) -> Result<Vec<String>> {
        self.hello_topics
            .look_up(
                self,
                user_id,
                "reading a user's topics",
                readable_topics_of,
                readable_topics_of_one,
            )
            .await
    }
}

/// Whether each (user, union) may read the union's topic: a member (active or retired)
/// or an admin on its path; in one statement, in order.
fn union_readers(store: &Store, asked: Vec<(i64, i64)>) -> BoxFuture<'_, Result<Vec<bool>>> {
    Box::pin(async move {
        let conn = store.client().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT m.found IS NOT NULL OR EXISTS (SELECT 1 FROM admin_roles(r.u, r.n))
                 FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS r(u, n, i)
                 LEFT JOIN LATERAL (SELECT 1 AS found FROM memberships
                                    WHERE user_id = r.u AND union_id = r.n AND status IN ('active', 'retired')
                                    LIMIT 1) m ON true
                 ORDER BY r.i",
            )
            .await?;
        let (users, unions): (Vec<i64>, Vec<i64>) = asked.into_iter().unzip();
        let rows = conn.query(&stmt, &[&users, &unions]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    })
}

/// Whether one user may read one union's topic.
fn union_reader(store: &Store, (user_id, union_id): (i64, i64)) -> BoxFuture<'_, Result<bool>> {
    Box::pin(async move {
        let conn = store.client().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND union_id = $2 AND status IN ('active', 'retired'))
                     OR EXISTS (SELECT 1 FROM admin_roles($1, $2))",
            )
            .await?;
        Ok(conn.query_one(&stmt, &[&user_id, &union_id]).await?.get(0))
    })
}

/// The topic names of a hello reply, from the unions `user_id` is a member of and the
/// unions they administer with their permissions, each in order.
fn topic_names<'a>(
    user_id: i64,
    member_of: impl IntoIterator<Item = i64>,
    admin_of: impl IntoIterator<Item = (i64, &'a [String])>,
) -> Vec<String> {
    let mut topics = vec![Topic::Member(user_id)];
    topics.extend(member_of.into_iter().map(Topic::Union));
    for (union_id, permissions) in admin_of {
        topics.push(Topic::Union(union_id));
        if permissions
            .iter()
            .any(|p| p == Permission::MembersReview.as_str() || p == Permission::OrgManage.as_str())
        {
            topics.push(Topic::UnionAdmin(union_id));
        }
    }
    let mut names: Vec<String> = topics.iter().map(Topic::to_string).collect();
    names.dedup();
    names
}

/// Several users' hello topics, in their order: memberships (by id) and admin rights (by
/// union) of all in one statement.
fn readable_topics_of(store: &Store, users: Vec<i64>) -> BoxFuture<'_, Result<Vec<Vec<String>>>> {
    Box::pin(async move {
        let conn = store.client().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT r.i, false AS admin, m.id AS sort, m.union_id, NULL::text[] AS permissions
                 FROM unnest($1::bigint[]) WITH ORDINALITY AS r(u, i)
                 JOIN LATERAL (SELECT id, union_id FROM memberships
                               WHERE user_id = r.u AND status IN ('active', 'retired') LIMIT 1) m ON true
                 UNION ALL
                 SELECT r.i, true, a.union_id, a.union_id, a.permissions
                 FROM unnest($1::bigint[]) WITH ORDINALITY AS r(u, i)
                 JOIN LATERAL (SELECT union_id, permissions FROM union_admins
                               WHERE user_id = r.u OFFSET 0) a ON true
                 ORDER BY 1, 2, 3",
            )
            .await?;
        let rows = conn.query(&stmt, &[&users]).await?;
        // Each user's rows: memberships first, then admin rights with their permissions.
        let rights = super::group::per_key(&rows, users.len(), |row| {
            let permissions: Option<Vec<String>> = row.get("permissions");
            let admin: bool = row.get("admin");
            (
                admin,
                row.get::<_, i64>("union_id"),
                permissions.unwrap_or_default(),
            )
        });
        Ok(users
            .iter()
            .zip(rights)
            .map(|(user_id, rights)| {
                let member_of = rights.iter().filter(|r| !r.0).map(|r| r.1);
                let admin_of = rights.iter().filter(|r| r.0).map(|r| (r.1, r.2.as_slice()));
                topic_names(*user_id, member_of, admin_of)
            })
            .collect())
    })
}

/// One user's hello topics.
fn readable_topics_of_one(store: &Store, user_id: i64) -> BoxFuture<'_, Result<Vec<String>>> {
    Box::pin(async move {
        let (memberships, admin_of) =
            futures_util::try_join!(store.memberships_of(user_id), store.admin_of(user_id))?;
        let admin_of = admin_of
            .iter()
            .map(|a| (a.union_id, a.permissions.as_slice()));
        Ok(topic_names(
            user_id,
            memberships.iter().map(|m| m.union_id),
            admin_of,
        ))
    })
}
