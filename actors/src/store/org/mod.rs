//! Changes to the union tree that the parent reviews (工会组织登记, 信息修改, 换届,
//! 届内换人). A request is stored with its checked payload and decided once by an admin
//! holding `org.manage` on the reviewing union (the parent; the root reviews itself),
//! with the same conditional update as applications; approval applies it in the same
//! transaction.

mod apply;
mod committee;

use deadpool_postgres::Transaction;

use gonghui_protocol::dto::{OrgRequest, OrgRequestEvent};
use gonghui_protocol::Topic;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::access::require;
use super::audit;
use super::events::EventBatch;
use super::notifications::{notify, Notice};
use super::tokens::Principal;
use super::unions::union_in;
use super::Store;
use crate::domain::{Decision, NewUnion, Permission, SeatChange, Term, UnionEdit};
use crate::{Error, Result};
use apply::{apply, check_move, room_below};
use committee::current_term;
use gonghui_protocol::events::kind;

/// Selects a request from `r`.
const REQUEST: &str =
    "SELECT r.id, r.kind, r.union_id, r.reviewer_union_id, r.submitted_by, r.payload,
            r.status, r.reason, r.created_at, r.decided_at, r.decided_by";

fn request_from_row(r: &Row) -> OrgRequest {
    OrgRequest {
        id: r.get("id"),
        kind: r.get("kind"),
        union_id: r.get("union_id"),
        reviewer_union_id: r.get("reviewer_union_id"),
        submitted_by: r.get("submitted_by"),
        payload: r.get("payload"),
        status: r.get("status"),
        reason: r.get("reason"),
        created_at: r.get("created_at"),
        decided_at: r.get("decided_at"),
        decided_by: r.get("decided_by"),
    }
}

/// What a request asks for, checked.
#[derive(Debug, Clone)]
pub enum OrgChange {
    /// A new union under `parent_id`, by a verified user who becomes its admin.
    Register(NewUnion),
    /// Changes to a union, by an admin with `org.manage` on it.
    Modify(i64, UnionEdit),
    /// A new committee term for a union.
    Committee(i64, Term),
    /// One seat of the current committee changes hands.
    Replace(i64, SeatChange),
}

impl OrgChange {
    fn kind(&self) -> &'static str {
        match self {
            OrgChange::Register(_) => "register",
            OrgChange::Modify(..) => "modify",
            OrgChange::Committee(..) => "committee",
            OrgChange::Replace(..) => "replace",
        }
    }

    fn payload(&self) -> serde_json::Value {
        let value = match self {
            OrgChange::Register(u) => serde_json::to_value(u.form()),
            OrgChange::Modify(_, e) => serde_json::to_value(e.changes()),
            OrgChange::Committee(_, t) => serde_json::to_value(t.form()),
            OrgChange::Replace(_, s) => serde_json::to_value(s.form()),
        };
        value.expect("forms are plain JSON")
    }
}

/// The union whose admins review changes to `union_id`: its parent, or itself for the root.
async fn reviewer_of(tx: &Transaction<'_>, union_id: i64) -> Result<i64> {
    let row = tx
        .query_opt(
            "SELECT coalesce(parent_id, id) FROM unions WHERE id = $1",
            &[&union_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("no union {union_id}")))?;
    Ok(row.get(0))
}

/// Adds an `org_request.*` event to every topic that shows the request: the reviewer's
/// queue, the union's own (when it is another), and the submitter's.
fn push_everywhere(events: &mut EventBatch, request: &OrgRequest, kind: &'static str) {
    let data = OrgRequestEvent {
        request: request.clone(),
    };
    events.push(Topic::UnionAdmin(request.reviewer_union_id), kind, &data);
    if let Some(union_id) = request.union_id.filter(|u| *u != request.reviewer_union_id) {
        events.push(Topic::UnionAdmin(union_id), kind, &data);
    }
    events.push(Topic::Member(request.submitted_by), kind, &data);
}

/// Registrations one user may have waiting at once: a person registers their own
/// union, perhaps a few; more is a flood in a reviewer's queue.
pub const MAX_PENDING_REGISTRATIONS: i64 = 5;
impl Store {
    /// Files a request for the reviewing union's admins.
    ///
    /// # Errors
    /// `Forbidden` for an unverified registrant or an admin without `org.manage`,
    /// `NotFound` for no such union, `Conflict` for a credit code in use or a request of
    /// the same kind already pending, `Invalid` for a move that would make a cycle or a
    /// replacement of someone not on the committee.
    #[tracing::instrument(skip_all, fields(user = user.user_id))]
    pub async fn submit_org_request(
        &self,
        user: &Principal,
        change: OrgChange,
    ) -> Result<OrgRequest> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let (union_id, reviewer) = match &change {
            OrgChange::Register(new) => {
                // The user's row is locked first, so their registrations are counted one
                // at a time (the count, a statement of its own, sees the ones before).
                let verified: bool = tx
                    .query_one(
                        "SELECT verified_at IS NOT NULL FROM users WHERE id = $1 FOR UPDATE",
                        &[&user.user_id],
                    )
                    .await?
                    .get(0);
                let pending: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM org_requests
                         WHERE submitted_by = $1 AND kind = 'register' AND status = 'pending'",
                        &[&user.user_id],
                    )
                    .await?
                    .get(0);
                if !verified {
                    return Err(Error::Forbidden(
                        "complete real-name verification before registering a union".into(),
                    ));
                }
                if pending >= MAX_PENDING_REGISTRATIONS {
                    return Err(Error::Conflict(format!(
                        "you have {pending} registrations waiting for review; wait for a decision before filing another"
                    )));
                }
                union_in(&tx, new.parent_id).await?;
                room_below(&tx, new.parent_id).await?;
                let taken = tx
                    .query_opt(
                        "SELECT id FROM unions WHERE credit_code = $1",
                        &[&new.credit_code.as_str()],
                    )
                    .await?;
                if let Some(row) = taken {
                    return Err(Error::Conflict(format!(
                        "union {} is registered with this credit code",
                        row.get::<_, i64>(0)
                    )));
                }
                (None, new.parent_id)
            }
            OrgChange::Modify(union_id, edit) => {
                require(&tx, user.user_id, *union_id, Permission::OrgManage).await?;
                if let Some(parent) = edit.parent_id {
                    check_move(&tx, *union_id, parent).await?;
                }
                (Some(*union_id), reviewer_of(&tx, *union_id).await?)
            }
            OrgChange::Committee(union_id, _) => {
                require(&tx, user.user_id, *union_id, Permission::OrgManage).await?;
                (Some(*union_id), reviewer_of(&tx, *union_id).await?)
            }
            OrgChange::Replace(union_id, change) => {
                require(&tx, user.user_id, *union_id, Permission::OrgManage).await?;
                let term = current_term(&tx, *union_id).await?.ok_or_else(|| {
                    Error::Conflict("this union has no committee yet: submit a term first".into())
                })?;
                change.apply(&term.members)?;
                (Some(*union_id), reviewer_of(&tx, *union_id).await?)
            }
        };
        let inserted = tx
            .query_one(
                &format!(
                    "WITH r AS (INSERT INTO org_requests (kind, union_id, reviewer_union_id, submitted_by, payload)
                                VALUES ($1, $2, $3, $4, $5) RETURNING *)
                     {REQUEST} FROM r"
                ),
                &[&change.kind(), &union_id, &reviewer, &user.user_id, &change.payload()],
            )
            .await;
        let request = match inserted {
            Ok(row) => request_from_row(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(Error::Conflict(
                    "a request of this kind is already pending for this union (or this credit code)".into(),
                ))
            }
            Err(e) => return Err(Error::from(e)),
        };
        let mut events = EventBatch::new();
        push_everywhere(&mut events, &request, kind::ORG_REQUEST_CREATED);
        self.commit(tx, events).await?;
        Ok(request)
    }

    /// A page of the pending requests a union reviews, and its own, oldest first: at
    /// most `limit` with an id above `after`, and the `after` of the next page.
    ///
    /// # Errors
    /// `Forbidden` without `org.manage` on the union or an ancestor.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, union_id = union_id))]
    pub async fn pending_org_requests(
        &self,
        admin: &Principal,
        union_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<OrgRequest>, Option<i64>)> {
        let conn = self.client().await?;
        require(&conn, admin.user_id, union_id, Permission::OrgManage).await?;
        let rows = conn
            .query(
                &format!(
                    "{REQUEST} FROM org_requests r
                     WHERE (r.reviewer_union_id = $1 OR r.union_id = $1) AND r.status = 'pending' AND r.id > $2
                     ORDER BY r.id LIMIT $3"
                ),
                &[&union_id, &after, &(limit + 1)],
            )
            .await?;
        let mut items: Vec<OrgRequest> = rows.iter().map(request_from_row).collect();
        let next = (items.len() as i64 > limit).then(|| {
            items.truncate(limit as usize);
            items.last().map(|r| r.id)
        });
        Ok((items, next.flatten()))
    }

    /// A user's own requests, newest first.
    #[tracing::instrument(skip_all, fields(user_id = user_id))]
    pub async fn org_requests_of(&self, user_id: i64) -> Result<Vec<OrgRequest>> {
        let conn = self.client().await?;
        let rows = conn
            .query(
                &format!("{REQUEST} FROM org_requests r WHERE r.submitted_by = $1 ORDER BY r.id DESC LIMIT 100"),
                &[&user_id],
            )
            .await?;
        Ok(rows.iter().map(request_from_row).collect())
    }

    /// Decides a pending request once, for an admin with `org.manage` on the reviewing
    /// union or an ancestor; approval applies it in the same transaction.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden` (also for moving a union under one the admin does not
    /// manage), `Conflict` when already decided or the tree changed so that it cannot
    /// apply, `Invalid` when a move has become a cycle.
    #[tracing::instrument(skip_all, fields(user = admin.user_id, id = id))]
    pub async fn decide_org_request(
        &self,
        admin: &Principal,
        id: i64,
        decision: Decision,
    ) -> Result<OrgRequest> {
        let mut conn = self.client().await?;
        let tx = conn.transaction().await?;
        let reviewer: i64 = tx
            .query_opt(
                "SELECT reviewer_union_id FROM org_requests WHERE id = $1",
                &[&id],
            )
            .await?
            .ok_or_else(|| Error::NotFound(format!("no request {id}")))?
            .get(0);
        require(&tx, admin.user_id, reviewer, Permission::OrgManage).await?;
        let (status, reason) = match &decision {
            Decision::Approve => ("approved", None),
            Decision::Reject(reason) => ("rejected", Some(reason.as_str())),
        };
        let row = tx
            .query_opt(
                &format!(
                    "WITH r AS (UPDATE org_requests SET status = $2, reason = $3, decided_at = now(), decided_by = $4
                                WHERE id = $1 AND status = 'pending' RETURNING *)
                     {REQUEST} FROM r"
                ),
                &[&id, &status, &reason, &admin.user_id],
            )
            .await?
            .ok_or_else(|| Error::Conflict("this request has already been decided".into()))?;
        let mut request = request_from_row(&row);
        let mut events = EventBatch::new();
        let rights_changed = match decision {
            Decision::Approve => apply(&tx, &mut events, admin, &mut request).await?,
            Decision::Reject(_) => None,
        };
        let kind = if reason.is_some() {
            kind::ORG_REQUEST_REJECTED
        } else {
            kind::ORG_REQUEST_APPROVED
        };
        push_everywhere(&mut events, &request, kind);
        let title = if reason.is_some() {
            "组织申请未通过"
        } else {
            "组织申请已通过"
        };
        let notice = Notice {
            kind,
            title,
            body: reason.map_or_else(
                || "您提交的工会组织申请已获批准。".to_owned(),
                |r| format!("原因：{r}"),
            ),
            data: json!({ "request_id": request.id, "union_id": request.union_id }),
        };
        notify(&tx, &mut events, &[request.submitted_by], notice).await?;
        audit::record(
            &tx,
            admin,
            request.union_id.unwrap_or(reviewer),
            if reason.is_some() {
                "org_request.reject"
            } else {
                "org_request.approve"
            },
            ("org_request", id),
            json!({ "kind": request.kind, "reason": reason }),
        )
        .await?;
        self.commit(tx, events).await?;
        if let Some(change) = rights_changed {
            // What the bridge will also hear; forgotten here too so this node reads its writes.
            self.rights().forget(change);
        }
        Ok(request)
    }
}

/// Pending requests a union reviews or made, read through any client or transaction.
pub(crate) async fn pending_org_requests_in(
    conn: &impl deadpool_postgres::GenericClient,
    union_id: i64,
) -> Result<Vec<OrgRequest>> {
    let stmt = conn
        .prepare_cached(&format!(
            "{REQUEST} FROM org_requests r
             WHERE (r.reviewer_union_id = $1 OR r.union_id = $1) AND r.status = 'pending' ORDER BY r.id"
        ))
        .await?;
    let rows = conn.query(&stmt, &[&union_id]).await?;
    Ok(rows.iter().map(request_from_row).collect())
}
