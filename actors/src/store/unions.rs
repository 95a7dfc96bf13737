//! The union tree and memberships, and the bootstrap of the root union and its first admin.

use gonghui_protocol::dto::{Membership, Union};

use deadpool_postgres::GenericClient;

use super::Store;
use crate::domain::{Permission, Phone};
use crate::{Error, Result};

/// What `gonghui bootstrap` made or found.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Bootstrapped {
    /// The root union.
    pub union_id: i64,
    /// Its first admin.
    pub user_id: i64,
}

impl Store {
    /// Creates the root union and its first admin with every permission, or finds them.
    ///
    /// # Errors
    /// `Conflict` when a root union with another name exists.
    #[tracing::instrument(skip_all)]
    pub async fn bootstrap(
        &self,
        union_name: &str,
        admin_phone: &Phone,
        password_hash: Option<&str>,
        end_sessions: bool,
    ) -> Result<Bootstrapped> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        tx.execute("LOCK TABLE unions IN SHARE ROW EXCLUSIVE MODE", &[])
            .await?;
        let root = tx
            .query_opt("SELECT id, name FROM unions WHERE parent_id IS NULL", &[])
            .await?;
        let union_id: i64 = match root {
            Some(row) if row.get::<_, String>(1) == union_name => row.get(0),
            Some(row) => {
                return Err(Error::Conflict(format!(
                    "a root union already exists: {:?}",
                    row.get::<_, String>(1)
                )))
            }
            None => tx
                .query_one(
                    "INSERT INTO unions (id, name, path) SELECT id, $1, ARRAY[id]
                     FROM (SELECT nextval('unions_id_seq') AS id) AS n RETURNING id",
                    &[&union_name],
                )
                .await?
                .get(0),
        };
        let user_id: i64 = tx
            .query_one(
                "INSERT INTO users (phone, password_hash) VALUES ($1, $2)
                 ON CONFLICT (phone) DO UPDATE SET password_hash = coalesce($2, users.password_hash) RETURNING id",
                &[&admin_phone.as_str(), &password_hash],
            )
            .await?
            .get(0);
        let all: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        tx.execute(
            "INSERT INTO union_admins (union_id, user_id, permissions) VALUES ($1, $2, $3)
             ON CONFLICT (union_id, user_id) DO UPDATE SET permissions = excluded.permissions",
            &[&union_id, &user_id, &all],
        )
        .await?;
        let revoked = if end_sessions {
            super::tokens::revoke_all_in(&tx, user_id, None).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        self.tokens().forget(&revoked);
        Ok(Bootstrapped { union_id, user_id })
    }

    /// A user's current memberships.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn memberships_of(&self, user_id: i64) -> Result<Vec<Membership>> {
        let conn = self.client().await?;
        memberships_in(&conn, user_id).await
    }
}

/// The columns [`membership_from_row`] reads, in order.
pub(crate) const MEMBERSHIP_COLUMNS: &str =
    "union_id, user_id, status, joined_at, retired_on, left_at";

/// Builds a [`Membership`] from a row selected with [`MEMBERSHIP_COLUMNS`], by column name.
pub(crate) fn membership_from_row(row: &tokio_postgres::Row) -> Membership {
    Membership {
        union_id: row.get("union_id"),
        user_id: row.get("user_id"),
        status: row.get("status"),
        joined_at: row.get("joined_at"),
        retired_on: row.get("retired_on"),
        left_at: row.get("left_at"),
    }
}

/// A user's current (active or retired) memberships, read through any client or transaction.
pub(crate) async fn memberships_in(
    conn: &impl GenericClient,
    user_id: i64,
) -> Result<Vec<Membership>> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships
             WHERE user_id = $1 AND status IN ('active', 'retired') ORDER BY id"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&user_id]).await?;
    Ok(rows.iter().map(membership_from_row).collect())
}

/// The current memberships of several users, in one statement, in order.
pub(crate) async fn memberships_of_in(
    conn: &impl GenericClient,
    user_ids: &[i64],
) -> Result<Vec<Vec<Membership>>> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT r.i, m.* FROM unnest($1::bigint[]) WITH ORDINALITY AS r(uid, i)
             JOIN LATERAL (SELECT {MEMBERSHIP_COLUMNS}, id AS sort FROM memberships
                           WHERE user_id = r.uid AND status IN ('active', 'retired') OFFSET 0) m ON true
             ORDER BY r.i, m.sort"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&user_ids]).await?;
    Ok(super::group::per_key(
        &rows,
        user_ids.len(),
        membership_from_row,
    ))
}

/// The columns [`union_from_row`] reads, from `unions u`.
pub(crate) const UNION_COLUMNS: &str =
    "u.id, u.name, u.parent_id, u.credit_code, u.address, u.lat, u.lng, u.contact_name, u.contact_phone";

/// Builds a [`Union`] from a row selected with [`UNION_COLUMNS`], by column name.
pub(crate) fn union_from_row(row: &tokio_postgres::Row) -> Union {
    Union {
        id: row.get("id"),
        name: row.get("name"),
        parent_id: row.get("parent_id"),
        credit_code: row.get("credit_code"),
        address: row.get("address"),
        lat: row.get("lat"),
        lng: row.get("lng"),
        contact_name: row.get("contact_name"),
        contact_phone: row.get("contact_phone"),
    }
}

/// One union, read through any client or transaction.
pub(crate) async fn union_in(conn: &impl GenericClient, union_id: i64) -> Result<Union> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {UNION_COLUMNS} FROM unions u WHERE u.id = $1"
        ))
        .await?;
    let row = conn
        .query_opt(&stmt, &[&union_id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("no union {union_id}")))?;
    Ok(union_from_row(&row))
}

/// A union's active members (retired ones are listed apart), through any client or transaction.
pub(crate) async fn member_count_in(conn: &impl GenericClient, union_id: i64) -> Result<i64> {
    let stmt = conn
        .prepare_cached(
            "SELECT count(*) FROM memberships WHERE union_id = $1 AND status = 'active'",
        )
        .await?;
    Ok(conn.query_one(&stmt, &[&union_id]).await?.get(0))
}
