//! The audit log: one row per admin action, written in the action's own transaction.

use deadpool_postgres::Transaction;
use gonghui_protocol::ClientKind;
use serde_json::Value;

use crate::Result;

/// One admin action to record.
pub struct AuditEntry<'a> {
    /// The union acted on.
    pub union_id: i64,
    /// The admin.
    pub actor_id: i64,
    /// From which client.
    pub client: ClientKind,
    /// What was done (`application.approve`).
    pub action: &'a str,
    /// What kind of thing it was done to.
    pub subject_type: &'a str,
    /// Which one.
    pub subject_id: i64,
    /// Anything else worth keeping.
    pub detail: Value,
}

/// Writes `entry` inside `tx`.
pub async fn record(tx: &Transaction<'_>, entry: AuditEntry<'_>) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit_log (union_id, actor_id, client, action, subject_type, subject_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &entry.union_id,
            &entry.actor_id,
            &entry.client.as_str(),
            &entry.action,
            &entry.subject_type,
            &entry.subject_id,
            &entry.detail,
        ],
    )
    .await?;
    Ok(())
}
