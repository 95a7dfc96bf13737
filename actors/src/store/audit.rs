//! The audit log: one row per admin action, written in the action's own transaction,
//! and listed per union for the admins of it or an ancestor.

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::AuditRecord;
use serde_json::Value;

use super::tokens::Principal;
use super::{keyset, Store};
use crate::{Error, Result};

/// The columns an action's row is written with, in [`record`]'s and [`record_each`]'s order.
const COLUMNS: &str = "(union_id, actor_id, client, action, subject_type, subject_id, detail)";

/// One admin action, for [`record_each`].
pub(crate) struct Entry<'a> {
    pub admin: &'a Principal,
    pub union_id: i64,
    pub action: &'a str,
    pub subject: (&'a str, i64),
    pub detail: Value,
}

/// Writes several admin actions inside `tx` in one statement (one action goes through
/// [`record`], whose single-row statement keeps one cached plan).
pub(crate) async fn record_each(tx: &Transaction<'_>, entries: &[Entry<'_>]) -> Result<()> {
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO audit_log {COLUMNS}
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[])"
        ))
        .await?;
    let unions: Vec<i64> = entries.iter().map(|e| e.union_id).collect();
    let actors: Vec<i64> = entries.iter().map(|e| e.admin.user_id).collect();
    let clients: Vec<&str> = entries.iter().map(|e| e.admin.client.as_str()).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e.action).collect();
    let types: Vec<&str> = entries.iter().map(|e| e.subject.0).collect();
    let ids: Vec<i64> = entries.iter().map(|e| e.subject.1).collect();
    let details: Vec<&Value> = entries.iter().map(|e| &e.detail).collect();
    tx.execute(
        &stmt,
        &[&unions, &actors, &clients, &actions, &types, &ids, &details],
    )
    .await?;
    Ok(())
}

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
        .prepare_cached(&format!(
            "INSERT INTO audit_log {COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
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
