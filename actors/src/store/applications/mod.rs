//! Applications to a union: to join it (入会), or to move one's membership to it from
//! another union (会籍转移). Created by a verified user, decided exactly once by an admin
//! of the receiving union: the decision is a conditional update (`WHERE status =
//! 'pending'`), so of two racing decisions on any nodes one updates a row and the other
//! finds none. An approved transfer ends the old membership and starts the new one in
//! the same transaction, so the member is never in two unions, nor in none.

use deadpool_postgres::Transaction;
use gonghui_protocol::dto::{
    Applicant, Application, ApplicationEvent, Membership, MembershipEvent,
};
use gonghui_protocol::events::kind;
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::access::access_changed;
use super::audit;
use super::events::EventBatch;
use super::notifications::{notify, Notice};
use super::rights::AccessChange;
use super::tokens::Principal;
use super::unions::{membership_from_row, MEMBERSHIP_COLUMNS};

mod decisions;
mod filing;

use super::Store;
use crate::domain::{ApplicationKind, BoundedText, Decision, Permission, Phone};
use crate::{Error, Result};
pub(crate) use decisions::Decisions;
pub(crate) use filing::Filings;

/// Selects an application with its applicant from `a` joined to `u`, for
/// [`application_from_row`], which reads it by column name.
const APPLICATION: &str =
    "SELECT a.id, a.union_id, a.user_id, a.kind, a.from_union_id, a.status, u.name, u.phone,
            a.note, a.reason, a.created_at, a.decided_at, a.decided_by";

fn application_from_row(r: &Row) -> Application {
    Application {
        id: r.get("id"),
        union_id: r.get("union_id"),
        user_id: r.get("user_id"),
        kind: r.get("kind"),
        from_union_id: r.get("from_union_id"),
        status: r.get("status"),
        applicant: Applicant {
            name: r.get("name"),
            phone_masked: Phone::masked(r.get("phone")),
        },
        note: r.get("note"),
        reason: r.get("reason"),
        created_at: r.get("created_at"),
        decided_at: r.get("decided_at"),
        decided_by: r.get("decided_by"),
    }
}

impl Store {
    /// Files one application in a transaction of its own: the path an application takes
    /// alone, and every application of a group that could not be filed together (see
    /// `filing.rs`).
    #[tracing::instrument(skip_all, fields(user_id = user_id, union_id = union_id))]
    async fn file_one(
        &self,
        user_id: i64,
        union_id: i64,
        kind: ApplicationKind,
        note: Option<&BoundedText>,
    ) -> Result<Application> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let standing = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM unions WHERE id = $2) AS union_exists,
                        u.verified_at IS NOT NULL AS verified, m.union_id, m.status
                 FROM users u
                 LEFT JOIN memberships m ON m.user_id = u.id AND m.status IN ('active', 'retired')
                 WHERE u.id = $1",
            )
            .await?;
        let standing = tx.query_one(&standing, &[&user_id, &union_id]).await?;
        let from_union_id = source_union(kind, union_id, &standing)?;
        let insert = tx
            .prepare_cached(&format!(
                "WITH a AS (INSERT INTO applications (union_id, user_id, kind, from_union_id, note)
                            VALUES ($1, $2, $3, $4, $5) RETURNING *)
                 {APPLICATION} FROM a JOIN users u ON u.id = a.user_id"
            ))
            .await?;
        let inserted = tx
            .query_one(
                &insert,
                &[
                    &union_id,
                    &user_id,
                    &kind.as_str(),
                    &from_union_id,
                    &note.map(BoundedText::as_str),
                ],
            )
            .await;
        let application = match inserted {
            Ok(row) => application_from_row(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(pending_already(kind))
            }
            Err(e) => return Err(Error::from(e)),
        };
        let mut events = EventBatch::new();
        push_everywhere(&mut events, &application, kind::APPLICATION_CREATED);
        self.commit(tx, events).await?;
        Ok(application)
    }

    /// A union's pending applications, oldest first.
    #[tracing::instrument(skip_all, fields(union_id = union_id))]
    pub async fn pending_applications(&self, union_id: i64) -> Result<Vec<Application>> {
        let conn = self.client().await?;
        pending_applications_in(&conn, union_id).await
    }

    /// Everything a user has applied for, newest first.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn applications_of(&self, user_id: i64) -> Result<Vec<Application>> {
        let conn = self.client().await?;
        applications_of_in(&conn, user_id).await
    }

    /// Decides one pending application in a transaction of its own: the path a
    /// decision takes alone, and every decision of a group that could not be decided
    /// together (see `decisions.rs`).
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    async fn decide_one(
        &self,
        admin: &Principal,
        id: i64,
        decision: &Decision,
    ) -> Result<Application> {
        let (status, reason, kind, action) = decision_parts(decision);
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let review = Permission::MembersReview.as_str();
        let decide = tx
            .prepare_cached(&format!(
                "WITH free AS (SELECT id FROM applications WHERE id = $1 AND status = 'pending'
                                 AND holds_permission($4, union_id, $5)
                               FOR UPDATE SKIP LOCKED),
                      a AS (UPDATE applications SET status = $2, reason = $3, decided_at = now(), decided_by = $4
                            WHERE id = (SELECT id FROM free)
                            RETURNING *)
                 {APPLICATION}, n.name AS union_name
                 FROM a JOIN users u ON u.id = a.user_id JOIN unions n ON n.id = a.union_id"
            ))
            .await?;
        let Some(row) = tx
            .query_opt(&decide, &[&id, &status, &reason, &admin.user_id, &review])
            .await?
        else {
            let why = why_undecided(&tx, admin, id).await;
            // Released before the answer, so a next call never finds it held.
            let _ = tx.rollback().await;
            return Err(why);
        };
        let application = application_from_row(&row);
        let mut events = EventBatch::new();
        push_everywhere(&mut events, &application, kind);
        if let Decision::Approve = decision {
            if let Some(from) = application.from_union_id {
                leave_for_transfer(&tx, &mut events, &application, from).await?;
            }
            join(&tx, &mut events, &application).await?;
        }
        notify(
            &tx,
            &mut events,
            &[application.user_id],
            decision_notice(&application, row.get("union_name"), reason),
        )
        .await?;
        audit::record(
            &tx,
            admin,
            application.union_id,
            action,
            ("application", id),
            audit_detail(&application),
        )
        .await?;
        self.commit(tx, events).await?;
        Ok(application)
    }
}

/// Whether an application of `kind` to `union_id` may be filed by the user whose
/// `standing` was read (`union_exists`, `verified`, and their current membership's
/// `union_id` and `status`); answers the union a transfer leaves.
fn source_union(kind: ApplicationKind, union_id: i64, standing: &Row) -> Result<Option<i64>> {
    if !standing.get::<_, bool>("union_exists") {
        return Err(Error::NotFound(format!("no union {union_id}")));
    }
    if !standing.get::<_, bool>("verified") {
        return Err(Error::Forbidden(
            "complete real-name verification before applying".into(),
        ));
    }
    let current = standing
        .get::<_, Option<i64>>("union_id")
        .map(|union| (union, standing.get::<_, String>("status")));
    match (kind, current) {
        (_, Some((current, _))) if current == union_id => Err(Error::Conflict(
            "you are already a member of this union".into(),
        )),
        (ApplicationKind::Join, None) => Ok(None),
        (ApplicationKind::Join, Some((current, _))) => Err(Error::Conflict(format!(
            "you are already a member of union {current}; apply for a transfer instead"
        ))),
        (ApplicationKind::Transfer, None) => Err(Error::Conflict(
            "you are not a member of any union; apply to join instead".into(),
        )),
        (ApplicationKind::Transfer, Some((_, status))) if status == "retired" => {
            Err(Error::Conflict(
                "a retired membership stays with its union and cannot be transferred".into(),
            ))
        }
        (ApplicationKind::Transfer, Some((current, _))) => Ok(Some(current)),
    }
}

/// The answer to a second pending application of `kind`.
fn pending_already(kind: ApplicationKind) -> Error {
    Error::Conflict(match kind {
        ApplicationKind::Join => "you already have a pending application to this union".into(),
        ApplicationKind::Transfer => "you already have a pending transfer".into(),
    })
}

/// Why a decision updated no row, read in its transaction (see [`undecided`]).
async fn why_undecided(tx: &Transaction<'_>, admin: &Principal, id: i64) -> Error {
    let row = async {
        let stmt = tx
            .prepare_cached(
                "SELECT holds_permission($2, union_id, $3) AS allowed, status FROM applications WHERE id = $1",
            )
            .await?;
        tx.query_opt(&stmt, &[&id, &admin.user_id, &Permission::MembersReview.as_str()])
            .await
    }
    .await;
    match row {
        Err(e) => Error::from(e),
        Ok(row) => undecided(
            id,
            row.as_ref().map(|r| (r.get("allowed"), r.get("status"))),
        ),
    }
}

/// Why the application `id` was not decided, from whether it was `found` with the admin
/// allowed to decide it and its status: no such application, the admin may not decide
/// it, it was decided already, or another decision holds it right now (a racing
/// decision does not wait for the winner's commit: it is answered at once).
fn undecided(id: i64, found: Option<(bool, &str)>) -> Error {
    match found {
        None => Error::NotFound(format!("no application {id}")),
        Some((false, _)) => {
            Error::Forbidden("you may not decide applications of this union".into())
        }
        Some((true, "pending")) => {
            Error::Conflict("another admin is deciding this application right now".into())
        }
        Some(_) => Error::Conflict("this application has already been decided".into()),
    }
}

/// The status and reason a decision writes, the event it makes and its audit action.
fn decision_parts(decision: &Decision) -> (&'static str, Option<&str>, &'static str, &'static str) {
    match decision {
        Decision::Approve => (
            "approved",
            None,
            kind::APPLICATION_APPROVED,
            "application.approve",
        ),
        Decision::Reject(reason) => (
            "rejected",
            Some(reason.as_str()),
            kind::APPLICATION_REJECTED,
            "application.reject",
        ),
    }
}

/// What the audit log keeps of a decision besides its action.
fn audit_detail(application: &Application) -> serde_json::Value {
    json!({ "user_id": application.user_id, "kind": application.kind, "reason": application.reason })
}

/// Adds an `application.*` event to every topic that shows the application: the
/// applicant's, the receiving union's queue and, for a transfer, the queue it leaves.
fn push_everywhere(events: &mut EventBatch, application: &Application, kind: &'static str) {
    let data = ApplicationEvent {
        application: application.clone(),
    };
    events.push(Topic::UnionAdmin(application.union_id), kind, &data);
    events.push(Topic::Member(application.user_id), kind, &data);
    if let Some(from) = application.from_union_id {
        events.push(Topic::UnionAdmin(from), kind, &data);
    }
}

/// Ends the applicant's active membership of `from` for an approved transfer.
async fn leave_for_transfer(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    application: &Application,
    from: i64,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(&format!(
            "UPDATE memberships SET status = 'left', left_at = now(), left_reason = 'transferred'
             WHERE user_id = $1 AND union_id = $2 AND status = 'active' RETURNING {MEMBERSHIP_COLUMNS}"
        ))
        .await?;
    let row = tx
        .query_opt(&stmt, &[&application.user_id, &from])
        .await?
        .ok_or_else(|| {
            Error::Conflict(format!(
                "the applicant is no longer an active member of union {from}"
            ))
        })?;
    push_left(events, membership_from_row(&row));
    access_changed(tx, AccessChange::User(application.user_id)).await
}

/// The events of a membership ended by a transfer: on the member's topic and the union
/// they left.
fn push_left(events: &mut EventBatch, membership: Membership) {
    let (user, union) = (membership.user_id, membership.union_id);
    let data = MembershipEvent { membership };
    events.push(Topic::Member(user), kind::MEMBERSHIP_ENDED, &data);
    events.push(Topic::Union(union), kind::MEMBER_LEFT, &data);
}

/// Makes the applicant an active member of the application's union.
async fn join(
    tx: &Transaction<'_>,
    events: &mut EventBatch,
    application: &Application,
) -> Result<()> {
    // A transfer carries the employer and job over from the membership it ends; two
    // statements rather than one with a flag, so each keeps one cached plan.
    let stmt = tx
        .prepare_cached(&if application.from_union_id.is_some() {
            format!(
                "INSERT INTO memberships (union_id, user_id, status, employer, job)
                 SELECT $1, $2, 'active', l.employer, l.job
                 FROM (SELECT 1) one LEFT JOIN LATERAL (
                     SELECT employer, job FROM memberships WHERE user_id = $2 ORDER BY id DESC LIMIT 1) l ON true
                 RETURNING {MEMBERSHIP_COLUMNS}"
            )
        } else {
            format!(
                "INSERT INTO memberships (union_id, user_id, status) VALUES ($1, $2, 'active')
                 RETURNING {MEMBERSHIP_COLUMNS}"
            )
        })
        .await?;
    let inserted = tx
        .query_one(&stmt, &[&application.union_id, &application.user_id])
        .await;
    let membership = match inserted {
        Ok(row) => membership_from_row(&row),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Err(Error::Conflict(
                "the applicant has meanwhile become a member of another union".into(),
            ))
        }
        Err(e) => return Err(Error::from(e)),
    };
    push_joined(events, membership);
    Ok(())
}

/// The events of a new membership: on the member's topic and their new union's.
fn push_joined(events: &mut EventBatch, membership: Membership) {
    let (user, union) = (membership.user_id, membership.union_id);
    let data = MembershipEvent { membership };
    events.push(Topic::Member(user), kind::MEMBERSHIP_CREATED, &data);
    events.push(Topic::Union(union), kind::MEMBER_JOINED, &data);
}

/// What the applicant's inbox says about a decision.
fn decision_notice<'a>(
    application: &Application,
    union_name: &str,
    reason: Option<&str>,
) -> Notice<'a> {
    let (kind, title) = match (application.from_union_id.is_some(), reason.is_some()) {
        (false, false) => (kind::APPLICATION_APPROVED, "入会申请已通过"),
        (false, true) => (kind::APPLICATION_REJECTED, "入会申请未通过"),
        (true, false) => ("transfer.approved", "会籍转移已完成"),
        (true, true) => ("transfer.rejected", "会籍转移未通过"),
    };
    let body = match reason {
        None => format!("您已成为{union_name}的会员。"),
        Some(reason) => format!("原因：{reason}"),
    };
    Notice {
        kind,
        title,
        body,
        data: json!({ "application_id": application.id, "union_id": application.union_id }),
    }
}

/// Pending applications read through any client or transaction (snapshots use this).
pub(crate) async fn pending_applications_in(
    conn: &impl deadpool_postgres::GenericClient,
    union_id: i64,
) -> Result<Vec<Application>> {
    let stmt = conn
        .prepare_cached(&format!(
            "{APPLICATION} FROM applications a JOIN users u ON u.id = a.user_id
             WHERE (a.union_id = $1 OR a.from_union_id = $1) AND a.status = 'pending' ORDER BY a.id"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&union_id]).await?;
    Ok(rows.iter().map(application_from_row).collect())
}

/// The applications of several users, in one statement, in order.
pub(crate) async fn applications_of_many_in(
    conn: &impl deadpool_postgres::GenericClient,
    user_ids: &[i64],
) -> Result<Vec<Vec<Application>>> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT r.i, x.* FROM unnest($1::bigint[]) WITH ORDINALITY AS r(uid, i)
             JOIN LATERAL ({APPLICATION} FROM applications a JOIN users u ON u.id = a.user_id
                           WHERE a.user_id = r.uid OFFSET 0) x ON true
             ORDER BY r.i, x.id DESC"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&user_ids]).await?;
    Ok(crate::store::group::per_key(
        &rows,
        user_ids.len(),
        application_from_row,
    ))
}

/// A user's applications read through any client or transaction.
pub(crate) async fn applications_of_in(
    conn: &impl deadpool_postgres::GenericClient,
    user_id: i64,
) -> Result<Vec<Application>> {
    let stmt = conn
        .prepare_cached(&format!(
            "{APPLICATION} FROM applications a JOIN users u ON u.id = a.user_id WHERE a.user_id = $1 ORDER BY a.id DESC"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&user_id]).await?;
    Ok(rows.iter().map(application_from_row).collect())
}
