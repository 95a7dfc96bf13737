//! A union's roster (会员名册): listing with filters and keyset pagination, retirement,
//! bulk removal, and the streamed export. Every operation needs `members.manage` on
//! the union or an ancestor; ID numbers are shown in full only to holders of
//! `members.pii`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{
    BulkReport, MembersChanged, Membership, MembershipEvent, RosterEntry, RowReport,
};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_postgres::Row;

use super::access::{require, users_changed};
use super::audit;
use super::events::EventBatch;
use super::export::Export;
use super::notifications::{notify, Notice};
use super::tokens::Principal;
use super::unions::{member_count_in, membership_from_row, MEMBERSHIP_COLUMNS};
use super::{contains_pattern, keyset, Store};
use crate::crypto::Secrets;
use crate::domain::{
    cst, day_start, BoundedText, Departed, Invalid, MemberStatus, Permission, Phone,
};
use crate::sheets::write::FileChunk;
use crate::sheets::{Column, Format, Template};
use crate::{Error, Result};

/// The most entries one roster page holds.
pub const MAX_PAGE: i64 = 200;

/// The roster's rows: memberships of `$1` with status `$2` after id `$3` whose member's
/// name or phone contains `$4` (any, when null), at most `$5`.
const ENTRIES: &str = "SELECT m.id, m.user_id, u.name, u.phone, u.id_number_masked, u.id_number_enc,
            m.employer, m.job, m.status, m.joined_at, m.retired_on, m.retired_note, m.left_at, m.left_reason
     FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.union_id = $1 AND m.status = $2 AND m.id > $3
       AND ($4::text IS NULL OR u.name LIKE $4 OR u.phone LIKE $4)
     ORDER BY m.id LIMIT $5";

/// One page's worth of roster filters.
#[derive(Debug, Clone)]
pub struct RosterQuery {
    pub status: MemberStatus,
    /// A part of the name or phone number.
    pub search: Option<BoundedText>,
    /// The previous page's `next_after`.
    pub after: i64,
    pub limit: i64,
}

/// A random id for a bulk operation's report, events and audit row.
pub(crate) fn operation_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A roster line; its ID number and phone whole only for a holder of `members.pii`
/// (`pii` holds the key to unseal with), masked for everyone else.
fn entry_from_row(r: &Row, pii: Option<&Secrets>) -> RosterEntry {
    let sealed: Option<Vec<u8>> = r.get("id_number_enc");
    let id_number = match (pii, sealed) {
        (Some(secrets), Some(sealed)) => secrets.decrypt(&sealed),
        _ => r.get("id_number_masked"),
    };
    let phone: String = r.get("phone");
    RosterEntry {
        membership_id: r.get("id"),
        user_id: r.get("user_id"),
        name: r.get("name"),
        phone: if pii.is_some() {
            phone
        } else {
            Phone::masked(&phone)
        },
        id_number,
        employer: r.get("employer"),
        job: r.get("job"),
        status: r.get("status"),
        joined_at: r.get("joined_at"),
        retired_on: r.get("retired_on"),
        retired_note: r.get("retired_note"),
        left_at: r.get("left_at"),
        left_reason: r.get("left_reason"),
    }
}

impl Store {
    /// One page of a union's roster.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `members.manage`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn roster(
        &self,
        admin: &Principal,
        union_id: i64,
        query: &RosterQuery,
    ) -> Result<(Vec<RosterEntry>, Option<i64>)> {
        let conn = self.client().await?;
        require(&conn, admin.user_id, union_id, Permission::MembersManage).await?;
        let pii = self
            .has_permission(admin.user_id, union_id, Permission::MembersPii)
            .await?;
        let stmt = conn.prepare_cached(ENTRIES).await?;
        let limit = query.limit.clamp(1, MAX_PAGE);
        let rows = conn
            .query(
                &stmt,
                &[
                    &union_id,
                    &query.status.as_str(),
                    &query.after,
                    &query.search.as_ref().map(|s| contains_pattern(s.as_str())),
                    &(limit + 1),
                ],
            )
            .await?;
        let secrets = pii.then_some(self.secrets());
        let items = rows.iter().map(|r| entry_from_row(r, secrets)).collect();
        Ok(keyset(items, limit, |e: &RosterEntry| e.membership_id))
    }

    /// Marks an active member retired (会员退休): they stay a member of the union, listed
    /// and exported apart, and are told in their inbox.
    ///
    /// # Errors
    /// `NotFound` if they are not a member of the union, `Conflict` if already retired,
    /// `Invalid` for a day before they joined.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id, user_id = user_id))]
    pub async fn retire(
        &self,
        admin: &Principal,
        union_id: i64,
        user_id: i64,
        retired_on: NaiveDate,
        note: Option<&BoundedText>,
    ) -> Result<Membership> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::MembersManage).await?;
        let current = tx
            .query_opt(
                "SELECT status, joined_at FROM memberships WHERE union_id = $1 AND user_id = $2
                 AND status IN ('active', 'retired') FOR UPDATE",
                &[&union_id, &user_id],
            )
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "user {user_id} is not a member of union {union_id}"
                ))
            })?;
        if current.get::<_, String>(0) == "retired" {
            return Err(Error::Conflict("this member is already retired".into()));
        }
        if day_start(retired_on) < current.get::<_, DateTime<Utc>>(1) - chrono::Duration::days(1) {
            return Err(Invalid::new("retired_on", "must not be before the member joined").into());
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE memberships SET status = 'retired', retired_on = $3, retired_note = $4
                     WHERE union_id = $1 AND user_id = $2 AND status = 'active' RETURNING {MEMBERSHIP_COLUMNS}"
                ),
                &[&union_id, &user_id, &retired_on, &note.map(BoundedText::as_str)],
            )
            .await?;
        let membership = membership_from_row(&row);
        let mut events = EventBatch::new();
        let data = MembershipEvent {
            membership: membership.clone(),
        };
        events.push(Topic::Member(user_id), kind::MEMBERSHIP_UPDATED, &data);
        events.push(Topic::Union(union_id), kind::MEMBER_RETIRED, &data);
        let notice = Notice {
            kind: "membership.retired",
            title: "退休登记已办理",
            body: format!("您的会员状态已登记为退休（{retired_on}）。"),
            data: json!({ "union_id": union_id }),
        };
        notify(&tx, &mut events, &[user_id], notice).await?;
        audit::record(
            &tx,
            admin,
            union_id,
            "member.retire",
            ("user", user_id),
            json!({ "retired_on": retired_on, "note": note.map(BoundedText::as_str) }),
        )
        .await?;
        self.commit(tx, events).await?;
        Ok(membership)
    }

    /// Removes departed members (批量移出) in one transaction: each named member's
    /// membership ends with `reason`, they see it live and in their inbox, and the report
    /// says what became of every row. Rows that could not be read arrive as `Err` and are
    /// reported as failed.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `members.manage`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn remove_members(
        &self,
        admin: &Principal,
        union_id: i64,
        rows: Vec<(u32, std::result::Result<Departed, Invalid>)>,
        reason: &BoundedText,
    ) -> Result<BulkReport> {
        let operation = operation_id();
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::MembersManage).await?;
        // Each ID number's blind index, worked out once.
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(row, parsed)| {
                let index = match &parsed {
                    Ok(Departed::IdNumber(id)) => Some(self.secrets().blind_index(id.expose())),
                    _ => None,
                };
                (row, parsed, index)
            })
            .collect();
        let indexes: Vec<&Vec<u8>> = rows.iter().filter_map(|(_, _, i)| i.as_ref()).collect();
        let by_index: HashMap<Vec<u8>, i64> = tx
            .query(
                "SELECT id_number_index, id FROM users WHERE id_number_index = ANY($1)",
                &[&indexes],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut report = Vec::with_capacity(rows.len());
        let mut targets: Vec<(u32, i64, bool)> = Vec::new();
        let mut named = HashSet::new();
        for (row, parsed, index) in rows {
            // Whether an ID number is registered, and to whom, is not the admin's to
            // learn: an unknown one reads exactly like a non-member's.
            let user = match (parsed, index) {
                (Err(invalid), _) => Err(invalid.to_string()),
                (Ok(Departed::UserId(id)), _) => Ok((id, true)),
                (Ok(Departed::IdNumber(_)), index) => Ok(index
                    .and_then(|i| by_index.get(&i).copied())
                    .map_or((0, false), |id| (id, false))),
            };
            match user {
                Ok((user, named_by_id)) if user != 0 && !named.insert(user) => {
                    report.push(row_report(
                        row,
                        "unchanged",
                        Some("named twice".into()),
                        named_by_id.then_some(user),
                    ))
                }
                Ok((user, named_by_id)) => targets.push((row, user, named_by_id)),
                Err(why) => report.push(row_report(row, "failed", Some(why), None)),
            }
        }
        let user_ids: Vec<i64> = targets.iter().map(|(_, u, _)| *u).collect();
        let ended = tx
            .query(
                &format!(
                    "UPDATE memberships SET status = 'left', left_at = now(), left_reason = $3
                     WHERE union_id = $1 AND user_id = ANY($2) AND status IN ('active', 'retired')
                     RETURNING {MEMBERSHIP_COLUMNS}"
                ),
                &[&union_id, &user_ids, &reason.as_str()],
            )
            .await?;
        let ended: Vec<Membership> = ended.iter().map(membership_from_row).collect();
        let removed: Vec<i64> = ended.iter().map(|m| m.user_id).collect();
        let gone: HashSet<i64> = removed.iter().copied().collect();
        for (row, user, named_by_id) in targets {
            report.push(if gone.contains(&user) {
                row_report(row, "removed", None, Some(user))
            } else {
                row_report(
                    row,
                    "failed",
                    Some("not a member of this union".into()),
                    named_by_id.then_some(user),
                )
            });
        }
        let mut events = EventBatch::new();
        users_changed(&tx, &removed).await?;
        for membership in ended {
            events.push(
                Topic::Member(membership.user_id),
                kind::MEMBERSHIP_ENDED,
                MembershipEvent { membership },
            );
        }
        if !removed.is_empty() {
            let notice = Notice {
                kind: "membership.removed",
                title: "您已被移出工会",
                body: format!("原因：{}", reason.as_str()),
                data: json!({ "union_id": union_id }),
            };
            notify(&tx, &mut events, &removed, notice).await?;
        }
        let report = finish_report(operation, report);
        finish_bulk(
            &tx,
            &mut events,
            admin,
            union_id,
            "members.remove",
            &report,
            json!({ "reason": reason.as_str(), "user_ids": removed }),
        )
        .await?;
        self.commit(tx, events).await?;
        Ok(report)
    }

    /// Streams a union's roster as a CSV or XLSX file (会员信息导出), in the import
    /// template's columns, after writing the export's audit row. Memory stays flat: rows
    /// go from the database to the client through bounded channels.
    ///
    /// # Errors
    /// `NotFound` for no such union, `Forbidden` without `members.manage`.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn export_roster(
        &self,
        admin: &Principal,
        union_id: i64,
        status: MemberStatus,
        format: Format,
    ) -> Result<mpsc::Receiver<FileChunk>> {
        let admitted = self.admit_export(admin.user_id)?;
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        require(&tx, admin.user_id, union_id, Permission::MembersManage).await?;
        let pii = self
            .has_permission(admin.user_id, union_id, Permission::MembersPii)
            .await?;
        audit::record(
            &tx,
            admin,
            union_id,
            "members.export",
            ("union", union_id),
            json!({ "status": status.as_str(), "format": format.extension(), "pii": pii }),
        )
        .await?;
        tx.commit().await?;
        let secrets = pii.then(|| self.secrets().clone());
        Ok(self.stream_export(
            admitted,
            Export {
                format,
                header: Column::ALL.iter().map(|c| c.headers().0).collect(),
                sql: ENTRIES,
                params: vec![
                    Box::new(union_id),
                    Box::new(status.as_str()),
                    Box::new(0i64),
                    Box::new(None::<String>),
                    Box::new(i64::MAX),
                ],
                cells: Box::new(move |row| {
                    let e = entry_from_row(row, secrets.as_ref());
                    vec![
                        e.name.unwrap_or_default(),
                        e.phone,
                        e.id_number.unwrap_or_default(),
                        e.employer.unwrap_or_default(),
                        e.job.unwrap_or_default(),
                        e.joined_at.with_timezone(&cst()).date_naive().to_string(),
                        e.status,
                        e.retired_on.map(|d| d.to_string()).unwrap_or_default(),
                    ]
                }),
            },
        ))
    }
}

/// One row's line of a report.
pub(crate) fn row_report(
    row: u32,
    outcome: &str,
    reason: Option<String>,
    user_id: Option<i64>,
) -> RowReport {
    RowReport {
        row,
        outcome: outcome.to_owned(),
        reason,
        user_id,
    }
}

/// Sorts the rows and counts the outcomes.
pub(crate) fn finish_report(operation_id: String, mut rows: Vec<RowReport>) -> BulkReport {
    rows.sort_by_key(|r| r.row);
    let count = |outcome: &str| rows.iter().filter(|r| r.outcome == outcome).count() as u32;
    BulkReport {
        operation_id,
        total: rows.len() as u32,
        changed: count("added") + count("removed"),
        unchanged: count("unchanged"),
        failed: count("failed"),
        rows,
    }
}

/// Ends a bulk operation inside its transaction: the union's `members.*` event when
/// anything changed, and the audit row.
pub(crate) async fn finish_bulk(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    admin: &Principal,
    union_id: i64,
    action: &'static str,
    report: &BulkReport,
    mut detail: serde_json::Value,
) -> Result<()> {
    if report.changed > 0 {
        let kind = if action == "members.import" {
            kind::MEMBERS_IMPORTED
        } else {
            kind::MEMBERS_REMOVED
        };
        events.push(
            Topic::Union(union_id),
            kind,
            MembersChanged {
                operation_id: report.operation_id.clone(),
                count: report.changed,
                member_count: member_count_in(tx, union_id).await?,
            },
        );
    }
    detail["operation_id"] = json!(report.operation_id);
    detail["total"] = json!(report.total);
    detail["changed"] = json!(report.changed);
    detail["failed"] = json!(report.failed);
    audit::record(tx, admin, union_id, action, ("union", union_id), detail).await
}
