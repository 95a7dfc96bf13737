//! Applications to join a union: created by a verified user, decided exactly once by an
//! admin. The decision is a conditional update (`WHERE status = 'pending'`), so of two
//! racing decisions on any nodes one updates a row and the other finds none.

use gonghui_protocol::dto::{Applicant, Application, ApplicationEvent, MembershipEvent};
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::audit::{self, AuditEntry};
use super::events::EventBatch;
use super::tokens::Principal;
use super::unions::membership_from_row;
use super::Store;
use crate::domain::{BoundedText, Permission, Phone};
use crate::{Error, Result};

/// Selects an application with its applicant from `a` joined to `u`.
const APPLICATION: &str =
    "SELECT a.id, a.union_id, a.user_id, a.kind, a.status, u.name, u.phone, a.note, a.reason,
                                  a.created_at, a.decided_at, a.decided_by";

fn application_from_row(r: &Row) -> Application {
    Application {
        id: r.get(0),
        union_id: r.get(1),
        user_id: r.get(2),
        kind: r.get(3),
        status: r.get(4),
        applicant: Applicant {
            name: r.get(5),
            phone_masked: Phone::masked(r.get(6)),
        },
        note: r.get(7),
        reason: r.get(8),
        created_at: r.get(9),
        decided_at: r.get(10),
        decided_by: r.get(11),
    }
}

/// What an admin decided.
pub enum Decision {
    /// Admit the applicant.
    Approve,
    /// Turn them down, saying why.
    Reject(BoundedText),
}

impl Store {
    /// Files a join application.
    ///
    /// # Errors
    /// `Forbidden` if the user is not verified, `NotFound` for no such union, `Conflict`
    /// if they are already a member of a union or already pending here.
    pub async fn create_application(
        &self,
        user_id: i64,
        union_id: i64,
        note: Option<&BoundedText>,
    ) -> Result<Application> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let verified: bool = tx
            .query_one(
                "SELECT verified_at IS NOT NULL FROM users WHERE id = $1",
                &[&user_id],
            )
            .await?
            .get(0);
        if !verified {
            return Err(Error::Forbidden(
                "complete real-name verification before applying".into(),
            ));
        }
        if tx
            .query_opt("SELECT 1 FROM unions WHERE id = $1", &[&union_id])
            .await?
            .is_none()
        {
            return Err(Error::NotFound(format!("no union {union_id}")));
        }
        if let Some(row) = tx
            .query_opt(
                "SELECT union_id FROM memberships WHERE user_id = $1 AND status = 'active'",
                &[&user_id],
            )
            .await?
        {
            let current: i64 = row.get(0);
            return Err(Error::Conflict(if current == union_id {
                "you are already a member of this union".into()
            } else {
                format!("you are already a member of union {current}; apply for a transfer instead")
            }));
        }
        let inserted = tx
            .query_one(
                &format!(
                    "WITH a AS (INSERT INTO applications (union_id, user_id, kind, note) VALUES ($1, $2, 'join', $3) RETURNING *)
                     {APPLICATION} FROM a JOIN users u ON u.id = a.user_id"
                ),
                &[&union_id, &user_id, &note.map(BoundedText::as_str)],
            )
            .await;
        let application = match inserted {
            Ok(row) => application_from_row(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "you already have a pending application to this union".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let mut events = EventBatch::new();
        let data = ApplicationEvent {
            application: application.clone(),
        };
        events.push(Topic::UnionAdmin(union_id), "application.created", &data);
        events.push(Topic::Member(user_id), "application.created", &data);
        events.append(&tx).await?;
        tx.commit().await?;
        Ok(application)
    }

    /// A union's pending applications, oldest first.
    pub async fn pending_applications(&self, union_id: i64) -> Result<Vec<Application>> {
        let conn = self.client().await?;
        pending_applications_in(&conn, union_id).await
    }

    /// Everything a user has applied for, newest first.
    pub async fn applications_of(&self, user_id: i64) -> Result<Vec<Application>> {
        let conn = self.client().await?;
        applications_of_in(&conn, user_id).await
    }

    /// Decides a pending application once, for an admin with `members.review` on its
    /// union or an ancestor. Approval creates the membership; both write an audit row.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, or `Conflict` when already decided (or, on approval, when
    /// the applicant has joined another union meanwhile).
    pub async fn decide_application(
        &self,
        admin: &Principal,
        id: i64,
        decision: Decision,
    ) -> Result<Application> {
        let (union_id, allowed) = {
            let conn = self.client().await?;
            let stmt = conn
                .prepare_cached("SELECT union_id, holds_permission($2, union_id, $3) FROM applications WHERE id = $1")
                .await?;
            let row = conn
                .query_opt(
                    &stmt,
                    &[&id, &admin.user_id, &Permission::MembersReview.as_str()],
                )
                .await?
                .ok_or_else(|| Error::NotFound(format!("no application {id}")))?;
            (row.get::<_, i64>(0), row.get::<_, bool>(1))
        };
        if !allowed {
            return Err(Error::Forbidden(
                "you may not decide applications of this union".into(),
            ));
        }
        let (status, reason, kind, action) = match &decision {
            Decision::Approve => (
                "approved",
                None,
                "application.approved",
                "application.approve",
            ),
            Decision::Reject(reason) => (
                "rejected",
                Some(reason.as_str()),
                "application.rejected",
                "application.reject",
            ),
        };
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let decide = tx
            .prepare_cached(&format!(
                "WITH a AS (UPDATE applications SET status = $2, reason = $3, decided_at = now(), decided_by = $4
                            WHERE id = $1 AND status = 'pending' RETURNING *)
                 {APPLICATION} FROM a JOIN users u ON u.id = a.user_id"
            ))
            .await?;
        let row = tx
            .query_opt(&decide, &[&id, &status, &reason, &admin.user_id])
            .await?
            .ok_or_else(|| Error::Conflict("this application has already been decided".into()))?;
        let application = application_from_row(&row);
        let mut events = EventBatch::new();
        let data = ApplicationEvent {
            application: application.clone(),
        };
        events.push(Topic::UnionAdmin(union_id), kind, &data);
        events.push(Topic::Member(application.user_id), kind, &data);
        if let Decision::Approve = decision {
            let join = tx
                .prepare_cached(
                    "INSERT INTO memberships (union_id, user_id, status) VALUES ($1, $2, 'active')
                     RETURNING union_id, user_id, status, joined_at",
                )
                .await?;
            let inserted = tx
                .query_one(&join, &[&union_id, &application.user_id])
                .await;
            let membership = match inserted {
                Ok(row) => membership_from_row(&row),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    return Err(Error::Conflict(
                        "the applicant has meanwhile become a member of another union".into(),
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let data = MembershipEvent { membership };
            events.push(
                Topic::Member(application.user_id),
                "membership.created",
                &data,
            );
            events.push(Topic::Union(union_id), "member.joined", &data);
        }
        audit::record(
            &tx,
            AuditEntry {
                union_id,
                actor_id: admin.user_id,
                client: admin.client,
                action,
                subject_type: "application",
                subject_id: id,
                detail: json!({ "user_id": application.user_id, "reason": reason }),
            },
        )
        .await?;
        events.append(&tx).await?;
        tx.commit().await?;
        Ok(application)
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
             WHERE a.union_id = $1 AND a.status = 'pending' ORDER BY a.id"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&union_id]).await?;
    Ok(rows.iter().map(application_from_row).collect())
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
