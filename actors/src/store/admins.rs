//! Admins and their permissions. An admin with `admins.manage` on a union (or an
//! ancestor) appoints, changes and removes admins of it; every permission granted or
//! taken away must be one the acting admin holds there, so nobody hands out more than
//! they have. Each change is announced on the access channel, so every node forgets its
//! cached rights and open subscriptions are checked again at once.

use std::collections::BTreeSet;

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{AdminChanged, AdminEntry};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::access::access_changed;
use super::audit;
use super::events::EventBatch;
use super::rights::AccessChange;
use super::tokens::Principal;
use super::Store;
use crate::domain::{Permission, Phone};
use crate::{Error, Result};

/// Selects an admin entry from `a` joined to `u`.
const ADMIN: &str =
    "SELECT a.union_id, a.user_id, u.name, u.phone, a.permissions, a.granted_by, a.granted_at";

fn admin_from_row(r: &Row) -> AdminEntry {
    AdminEntry {
        union_id: r.get("union_id"),
        user_id: r.get("user_id"),
        name: r.get("name"),
        phone_masked: Phone::masked(r.get("phone")),
        permissions: r.get("permissions"),
        granted_by: r.get("granted_by"),
        granted_at: r.get("granted_at"),
    }
}

/// The permissions `user_id` holds on `union_id` through it and its ancestors.
///
/// # Errors
/// `NotFound` for no such union.
pub(crate) async fn held_in(
    tx: &Transaction<'_>,
    user_id: i64,
    union_id: i64,
) -> Result<BTreeSet<String>> {
    let row = tx
        .query_opt(
            "SELECT coalesce((SELECT array_agg(DISTINCT p) FROM admin_roles($1, u.id) a, unnest(a.permissions) p), '{}')
             FROM unions u WHERE u.id = $2",
            &[&user_id, &union_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("no union {union_id}")))?;
    Ok(row.get::<_, Vec<String>>(0).into_iter().collect())
}

impl Store {
    /// The admins of one union (not of those above it).
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `admins.manage` there.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn union_admins(&self, admin: &Principal, union_id: i64) -> Result<Vec<AdminEntry>> {
        let conn = self.client().await?;
        super::access::require(&conn, admin.user_id, union_id, Permission::AdminsManage).await?;
        let rows = conn
            .query(
                &format!("{ADMIN} FROM union_admins a JOIN users u ON u.id = a.user_id WHERE a.union_id = $1 ORDER BY a.granted_at, a.user_id"),
                &[&union_id],
            )
            .await?;
        Ok(rows.iter().map(admin_from_row).collect())
    }

    /// Appoints `target` an admin of `union_id` with `permissions`, or changes the
    /// permissions they hold there; an empty set removes them.
    ///
    /// # Errors
    /// `NotFound` for no such union or user (or, on removal, no such admin),
    /// `Forbidden` without `admins.manage`, for one's own rights, or for a permission
    /// granted or taken away that the acting admin does not hold.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id, target = target))]
    pub async fn set_admin(
        &self,
        admin: &Principal,
        union_id: i64,
        target: i64,
        permissions: &BTreeSet<Permission>,
    ) -> Result<Option<AdminEntry>> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let held = held_in(&tx, admin.user_id, union_id).await?;
        if !held.contains(Permission::AdminsManage.as_str()) {
            return Err(Error::Forbidden(format!(
                "you need admins.manage on union {union_id}"
            )));
        }
        if target == admin.user_id {
            return Err(Error::Forbidden(
                "you cannot change your own rights; ask another admin".into(),
            ));
        }
        let current: BTreeSet<String> = tx
            .query_opt(
                "SELECT permissions FROM union_admins WHERE union_id = $1 AND user_id = $2 FOR UPDATE",
                &[&union_id, &target],
            )
            .await?
            .map(|r| r.get::<_, Vec<String>>(0).into_iter().collect())
            .unwrap_or_default();
        let wanted: BTreeSet<String> = permissions.iter().map(|p| p.as_str().to_owned()).collect();
        if wanted.is_empty() && current.is_empty() {
            return Err(Error::NotFound(format!(
                "user {target} is not an admin of union {union_id}"
            )));
        }
        if let Some(beyond) = current
            .symmetric_difference(&wanted)
            .find(|p| !held.contains(*p))
        {
            return Err(Error::Forbidden(format!(
                "you cannot grant or take away {beyond}: you do not hold it on this union"
            )));
        }
        let entry = if wanted.is_empty() {
            tx.execute(
                "DELETE FROM union_admins WHERE union_id = $1 AND user_id = $2",
                &[&union_id, &target],
            )
            .await?;
            None
        } else {
            let list: Vec<&str> = wanted.iter().map(String::as_str).collect();
            let upserted = tx
                .query_one(
                    &format!(
                        "WITH a AS (INSERT INTO union_admins (union_id, user_id, permissions, granted_by) VALUES ($1, $2, $3, $4)
                                    ON CONFLICT (union_id, user_id) DO UPDATE
                                    SET permissions = excluded.permissions, granted_by = excluded.granted_by, granted_at = now()
                                    RETURNING *)
                         {ADMIN} FROM a JOIN users u ON u.id = a.user_id"
                    ),
                    &[&union_id, &target, &list, &admin.user_id],
                )
                .await;
            match upserted {
                Ok(row) => Some(admin_from_row(&row)),
                Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                    return Err(Error::NotFound(format!("no user {target}")))
                }
                Err(e) => return Err(Error::from(e)),
            }
        };
        let action = match (current.is_empty(), wanted.is_empty()) {
            (true, _) => "admin.appoint",
            (false, true) => "admin.remove",
            (false, false) => "admin.update",
        };
        audit::record(
            &tx,
            admin,
            union_id,
            action,
            ("user", target),
            json!({ "from": current, "to": wanted }),
        )
        .await?;
        let mut events = EventBatch::new();
        let kind = if wanted.is_empty() {
            kind::ADMIN_REMOVED
        } else {
            kind::ADMIN_UPDATED
        };
        events.push(
            Topic::Member(target),
            kind,
            AdminChanged {
                union_id,
                permissions: wanted.into_iter().collect(),
            },
        );
        access_changed(&tx, AccessChange::User(target)).await?;
        self.commit(tx, events).await?;
        self.rights().forget(AccessChange::User(target));
        Ok(entry)
    }
}
