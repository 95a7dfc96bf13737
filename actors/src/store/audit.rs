//! The audit log: one row per admin action, written in the action's own transaction,
//! and listed per union for the admins of it or an ancestor.

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::AuditRecord;
use serde_json::Value;

use super::tokens::Principal;
use super::{keyset, Store};
use crate::{Error, Result};

/// Writes one admin action inside `tx`: who (`admin`, and from which client), on which
/// union, what (`application.approve`), to what (`("application", 7)`), and anything
/// else worth keeping.
pub async fn record(
    tx: &Transaction<'_>,
    admin: &Principal,
    union_id: i64,
    action: &str,
    (subject_type, subject_id): (&str, i64),
    detail: Value,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit_log (union_id, actor_id, client, action, subject_type, subject_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &union_id,
            &admin.user_id,
            &admin.client.as_str(),
            &action,
            &subject_type,
            &subject_id,
            &detail,
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// A union's audit rows, newest first, with ids below `before`.
    ///
    /// # Errors
    /// `Forbidden` unless the caller is an admin (any permission) of the union or an ancestor.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id, limit = limit))]
    pub async fn audit_page(
        &self,
        admin: &Principal,
        union_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<AuditRecord>, Option<i64>)> {
        let conn = self.client().await?;
        let admin_here: bool = conn
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM admin_roles($1, $2))",
                &[&admin.user_id, &union_id],
            )
            .await?
            .get(0);
        if !admin_here {
            return Err(Error::Forbidden(format!(
                "only admins of union {union_id} or above it read its audit log"
            )));
        }
        let rows = conn
            .query(
                "SELECT id, union_id, actor_id, client, action, subject_type, subject_id, detail, at
                 FROM audit_log WHERE union_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                &[&union_id, &before.unwrap_or(i64::MAX), &(limit + 1)],
            )
            .await?;
        let items: Vec<AuditRecord> = rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get(0),
                union_id: r.get(1),
                actor_id: r.get(2),
                client: r.get(3),
                action: r.get(4),
                subject_type: r.get(5),
                subject_id: r.get(6),
                detail: r.get(7),
                at: r.get(8),
            })
            .collect();
        Ok(keyset(items, limit, |r| r.id))
    }
}
